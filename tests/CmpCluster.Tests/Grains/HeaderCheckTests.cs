using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Header rules checked before any crypto (RFC 9483 §3.1, RFC 9810 §5.1.1): each failure is an error message that
/// still echoes transactionID and answers our senderNonce, and a refused request leaves the transaction unopened.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class HeaderCheckTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private byte[] Ir(RequestOverrides? overrides = null) =>
        _session.BuildEnrollment(initial: true, new X509Name($"CN=header-{Guid.NewGuid():N}"), _key, overrides: overrides);

    public static TheoryData<string, PkiFailureInfo> Violations => new()
    {
        { "pvno 1", PkiFailureInfo.UnsupportedVersion },
        { "pvno 4", PkiFailureInfo.UnsupportedVersion },
        { "messageTime 1 hour behind", PkiFailureInfo.BadTime },
        { "messageTime 1 hour ahead", PkiFailureInfo.BadTime },
        { "senderNonce of 8 bytes", PkiFailureInfo.BadSenderNonce },
        { "senderNonce of 65 bytes", PkiFailureInfo.BadSenderNonce },
        { "recipNonce of 65 bytes", PkiFailureInfo.BadRecipientNonce },
        { "PBM iterationCount 100001", PkiFailureInfo.BadMessageCheck },
    };

    private static RequestOverrides Overrides(string violation) => violation switch
    {
        "pvno 1" => new RequestOverrides { Pvno = 1 },
        "pvno 4" => new RequestOverrides { Pvno = 4 },
        "messageTime 1 hour behind" => new RequestOverrides { MessageTime = DateTimeOffset.UtcNow.AddHours(-1) },
        "messageTime 1 hour ahead" => new RequestOverrides { MessageTime = DateTimeOffset.UtcNow.AddHours(1) },
        "senderNonce of 8 bytes" => new RequestOverrides { SenderNonce = RandomNumberGenerator.GetBytes(8) },
        "senderNonce of 65 bytes" => new RequestOverrides { SenderNonce = RandomNumberGenerator.GetBytes(65) },
        "recipNonce of 65 bytes" => new RequestOverrides { RecipNonce = RandomNumberGenerator.GetBytes(65) },
        "PBM iterationCount 100001" => new RequestOverrides { PbmIterations = 100_001 },
        _ => throw new ArgumentOutOfRangeException(nameof(violation)),
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task Header_violation_is_answered_with_its_failInfo_and_opens_nothing(string violation, PkiFailureInfo expected)
    {
        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, Ir(Overrides(violation)));

        ProtocolAssert.Rejected(error.View, expected);
        ProtocolAssert.AnswersLastRequest(error.View, _session);
        // Not authenticated, so not MAC-protected: the CMP signer signs it (no unprotected errors).
        Assert.True(error.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.New, snapshot.Phase);
        Assert.Empty(snapshot.CertificateKeys);
    }

    [Fact]
    public async Task After_a_refused_header_a_correct_ir_with_the_same_transactionID_succeeds()
    {
        await cluster.SendAsync(Aliases.Pbe, _session, Ir(new RequestOverrides { Pvno = 1 }));

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, Ir());

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task MessageTime_within_the_window_is_accepted()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session,
            Ir(new RequestOverrides { MessageTime = DateTimeOffset.UtcNow.AddMinutes(-9) }));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task An_RA_alias_requires_messageTime_and_refuses_a_request_without_it_as_badTime()
    {
        // The replay protection that outlives a transaction's retention: without messageTime a replay could not be dated.
        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, Ir(new RequestOverrides { OmitMessageTime = true }));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadTime);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, _session)).CertificateKeys);
    }

    [Fact]
    public async Task MessageTime_is_optional_where_the_alias_says_so()
    {
        // RFC 9483 §3.1: messageTime SHOULD be present; an alias with RequireMessageTime false checks only a present one.
        Exchange ip = await cluster.SendAsync(Aliases.NoMessageTime, _session, Ir(new RequestOverrides { OmitMessageTime = true }));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task A_transactionID_of_8_bytes_is_badRequest_and_echoed()
    {
        _session.TransactionId = RandomNumberGenerator.GetBytes(8);

        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, Ir());

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        ProtocolAssert.AnswersLastRequest(error.View, _session);
    }

    [Fact]
    public async Task A_pvno_beyond_int_range_is_unsupportedVersion_not_an_exception()
    {
        RawRequest request = RawRequests.Protect(_session.TransactionId, RawRequests.Genm(),
            editHeader: header => RawRequests.WithPvno(header, BigInteger.One.ShiftLeft(40)));

        byte[] response = await cluster.Transaction(Aliases.Pbe, _session).HandleAsync(new CmpRequest(Aliases.Pbe, request.Der));

        CmpResponseView view = CmpResponseView.Parse(response);
        ProtocolAssert.Rejected(view, PkiFailureInfo.UnsupportedVersion);
        ProtocolAssert.Answers(view, _session.TransactionId, request.SenderNonce);
    }
}

/// <summary>HMAC authentication (RFC 4211 §4.4, EJBCA's CMP error table): a MAC that does not verify is badMessageCheck.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class AuthenticationTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    [Fact]
    public async Task Ir_with_a_wrong_secret_is_badMessageCheck_signed_and_leaves_the_transaction_new()
    {
        CmpClientSession impostor = CmpClusterFixture.NewSession("wrong-secret");

        Exchange error = await cluster.SendAsync(Aliases.Pbe, impostor,
            impostor.BuildEnrollment(initial: true, new X509Name("CN=impostor"), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        ProtocolAssert.AnswersLastRequest(error.View, impostor);
        Assert.False(impostor.VerifyMac(error.Response));
        Assert.True(error.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Assert.Equal(cluster.Ca.CmpSigner.CertificateDer, error.View.ExtraCerts[0]);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, impostor);
        Assert.Equal(TransactionPhase.New, snapshot.Phase);
        Assert.Empty(snapshot.CertificateKeys);

        // An unauthenticated request cannot burn the transactionID of the real client.
        CmpClientSession real = CmpClusterFixture.NewSession();
        real.TransactionId = impostor.TransactionId;
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, real, real.BuildEnrollment(initial: true, new X509Name("CN=real"), _key));
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.True(real.VerifyMac(ip.Response));
    }

    [Fact]
    public async Task Ir_whose_protection_bits_were_altered_is_badMessageCheck()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        byte[] ir = session.BuildEnrollment(initial: true, new X509Name("CN=tampered"), _key);
        ir[^1] ^= 0x01; // the last byte is inside the protection BIT STRING

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session, ir);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        ProtocolAssert.AnswersLastRequest(error.View, session);
    }
}
