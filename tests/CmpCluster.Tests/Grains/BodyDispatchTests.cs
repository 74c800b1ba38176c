using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Transactions;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Cmp;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>one exhaustive dispatch over PKIBody types; every type is handled or rejected with badRequest.</summary>
public sealed class BodyDispatchTests
{
    public static TheoryData<PkiBodyType> AllBodyTypes => new(Enum.GetValues<PkiBodyType>());

    [Fact]
    public void Body_types_are_the_27_choices_of_RFC_9810_numbered_by_their_tags()
    {
        PkiBodyType[] all = Enum.GetValues<PkiBodyType>();
        Assert.Equal(Enumerable.Range(0, 27), all.Select(t => (int)t));
        Assert.Equal(PkiBody.TYPE_POLL_REP, (int)PkiBodyType.PollRep);
        Assert.Equal(PkiBody.TYPE_CERT_CONFIRM, (int)PkiBodyType.CertConf);
        Assert.Equal(PkiBody.TYPE_GEN_MSG, (int)PkiBodyType.Genm);
    }

    [Theory]
    [MemberData(nameof(AllBodyTypes))]
    public void Every_body_type_has_a_route_and_the_served_requests_have_their_own(PkiBodyType type)
    {
        BodyRoute route = BodyDispatch.Route(type);

        BodyRoute expected = type switch
        {
            PkiBodyType.Ir or PkiBodyType.Cr or PkiBodyType.Kur or PkiBodyType.P10Cr => BodyRoute.Enrollment,
            PkiBodyType.CertConf => BodyRoute.Confirmation,
            PkiBodyType.Rr => BodyRoute.Revocation,
            PkiBodyType.Genm => BodyRoute.General,
            PkiBodyType.PollReq => BodyRoute.Polling,
            PkiBodyType.Nested => BodyRoute.Nested,
            _ when TransactionMachine.Opens(type) || type == PkiBodyType.PollReq => BodyRoute.NotSupportedYet,
            _ => BodyRoute.NotARequest,
        };
        Assert.Equal(expected, route);
    }

    [Theory]
    [InlineData(PkiBodyType.Ip)]
    [InlineData(PkiBodyType.Cp)]
    [InlineData(PkiBodyType.Kup)]
    [InlineData(PkiBodyType.Rp)]
    [InlineData(PkiBodyType.PkiConf)]
    [InlineData(PkiBodyType.Genp)]
    [InlineData(PkiBodyType.Error)]
    [InlineData(PkiBodyType.PollRep)]
    public void Server_messages_never_open_a_transaction(PkiBodyType type)
    {
        Assert.False(TransactionMachine.Opens(type));
        Assert.Equal(BodyRoute.NotARequest, BodyDispatch.Route(type));
        Assert.Equal(PkiFailureInfo.BadRequest, TransactionMachine.Admit(TransactionPhase.New, type, null, null)?.FailInfo);
    }
}

/// <summary>Body types the engine does not serve yet, sent through the transaction grain: badRequest, nothing opened.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class UnsupportedBodyTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private async Task<CmpResponseView> SendAsync(PkiBody body)
    {
        RawRequest request = RawRequests.Protect(_session.TransactionId, body);
        byte[] response = await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der));
        CmpResponseView view = CmpResponseView.Parse(response);
        ProtocolAssert.Answers(view, _session.TransactionId, request.SenderNonce);
        return view;
    }

    [Fact]
    public async Task A_pkiConf_sent_by_a_client_is_badRequest_and_opens_nothing()
    {
        CmpResponseView view = await SendAsync(RawRequests.PkiConf());

        ProtocolAssert.Rejected(view, PkiFailureInfo.BadRequest);
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Phase);
    }
}
