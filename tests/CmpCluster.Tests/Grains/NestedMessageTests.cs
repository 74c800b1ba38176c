using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using static CmpCluster.Tests.Grains.LifecycleDevices;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// nested (RFC 9810 §5.1.3.4, EJBCA's CMP documentation, "Multiprotection Support"): an RA administrator signs an envelope around device messages;
/// each inner message is answered by its own transaction, and a batch is answered in full.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class NestedMessageTests(CmpClusterFixture cluster)
{
    private async Task<CmpClientSession> RaAsync() => (await EnrolledAsync(cluster, Aliases.RaAdministrator)).Signer();

    private static (CmpClientSession Session, byte[] Ir) DeviceIr(string secret = Aliases.Secret, bool unprotected = false)
    {
        CmpClientSession device = CmpClusterFixture.NewSession(secret);
        byte[] ir = device.BuildEnrollment(true, new X509Name($"CN=nested-{Guid.NewGuid():N},O=Example"), NewKey(), implicitConfirm: true,
            overrides: new RequestOverrides { Unprotected = unprotected });
        return (device, ir);
    }

    [Fact]
    public async Task A_trusted_RA_forwards_a_protected_device_request_and_gets_its_answer_wrapped()
    {
        CmpClientSession ra = await RaAsync();
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange outer = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(ir));

        Assert.Equal(PkiBodyType.Nested, outer.View.BodyType);
        ProtocolAssert.AnswersLastRequest(outer.View, ra);
        Assert.True(outer.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        CmpResponseView inner = Assert.Single(outer.View.Inner);
        ProtocolAssert.Granted(inner, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(inner, device);
        // The inner answer is protected as the alias says (signature here), like an answer to the device directly.
        Assert.True(inner.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
    }

    [Fact]
    public async Task A_batch_is_answered_in_full_and_in_order()
    {
        CmpClientSession ra = await RaAsync();
        (CmpClientSession first, byte[] firstIr) = DeviceIr();
        (CmpClientSession second, byte[] secondIr) = DeviceIr("a wrong secret");
        (CmpClientSession third, byte[] thirdIr) = DeviceIr();

        Exchange outer = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(firstIr, secondIr, thirdIr));

        Assert.Equal(3, outer.View.Inner.Count);
        ProtocolAssert.Granted(outer.View.Inner[0], PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(outer.View.Inner[0], first);
        ProtocolAssert.Rejected(outer.View.Inner[1], PkiFailureInfo.BadMessageCheck);
        ProtocolAssert.AnswersLastRequest(outer.View.Inner[1], second);
        ProtocolAssert.Granted(outer.View.Inner[2], PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(outer.View.Inner[2], third);
    }

    [Fact]
    public async Task An_unprotected_inner_request_is_accepted_only_where_the_alias_trusts_the_RA_for_it()
    {
        CmpClientSession ra = await RaAsync();
        (_, byte[] refused) = DeviceIr(unprotected: true);
        Exchange strict = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(refused));
        ProtocolAssert.Rejected(Assert.Single(strict.View.Inner), PkiFailureInfo.BadMessageCheck);

        CmpClientSession trusting = await RaAsync();
        (CmpClientSession device, byte[] accepted) = DeviceIr(unprotected: true);
        Exchange outer = await cluster.SendAsync(Aliases.RaAdminTrustsInner, trusting, trusting.BuildNested(accepted));

        CmpResponseView inner = Assert.Single(outer.View.Inner);
        ProtocolAssert.Granted(inner, PkiBodyType.Ip);
        Assert.True(inner.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        // The same unprotected request sent alone is not accepted.
        (CmpClientSession alone, byte[] aloneIr) = DeviceIr(unprotected: true);
        ProtocolAssert.Rejected((await cluster.SendAsync(Aliases.RaAdminTrustsInner, alone, aloneIr)).View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task A_nested_message_signed_by_a_device_that_is_not_an_RA_administrator_is_notAuthorized()
    {
        CmpClientSession stranger = (await EnrolledAsync(cluster)).Signer();
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, stranger, stranger.BuildNested(ir));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
        Assert.Equal(TransactionPhase.New, (await cluster.SnapshotAsync(Aliases.RaAdmin, device)).Phase);
    }

    [Fact]
    public async Task Nesting_is_one_level_deep_and_an_inner_message_may_not_reuse_the_outer_transactionID()
    {
        CmpClientSession ra = await RaAsync();
        CmpClientSession innerRa = await RaAsync();
        (_, byte[] ir) = DeviceIr();
        byte[] nestedTwice = innerRa.BuildNested(ir);
        CmpClientSession sameId = CmpClusterFixture.NewSession();
        sameId.TransactionId = ra.TransactionId;
        byte[] reusing = sameId.BuildEnrollment(true, new X509Name("CN=same-id,O=Example"), NewKey());

        Exchange outer = await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(nestedTwice, reusing));

        Assert.Equal(2, outer.View.Inner.Count);
        ProtocolAssert.Rejected(outer.View.Inner[0], PkiFailureInfo.BadRequest);
        ProtocolAssert.Rejected(outer.View.Inner[1], PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task An_RA_of_another_PKI_is_trusted_through_the_configured_trust_path_and_a_stranger_is_not()
    {
        var partner = new CmpClientSession("unused", "partner-ra").SignWith(ForeignRa.Key, ForeignRa.Certificate);
        (CmpClientSession device, byte[] ir) = DeviceIr();

        Exchange outer = await cluster.SendAsync(Aliases.PartnerRa, partner, partner.BuildNested(ir));

        ProtocolAssert.Granted(Assert.Single(outer.View.Inner), PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(outer.View.Inner[0], device);
        var stranger = new CmpClientSession("unused", "stranger-ra").SignWith(ForeignRa.StrangerKey, ForeignRa.Stranger);
        (_, byte[] other) = DeviceIr();
        ProtocolAssert.Rejected((await cluster.SendAsync(Aliases.PartnerRa, stranger, stranger.BuildNested(other))).View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task More_inner_messages_than_the_limit_is_badRequest()
    {
        CmpClientSession ra = await RaAsync();
        byte[][] batch = Enumerable.Range(0, 11).Select(_ => DeviceIr().Ir).ToArray();

        ProtocolAssert.Rejected((await cluster.SendAsync(Aliases.RaAdmin, ra, ra.BuildNested(batch))).View, PkiFailureInfo.BadRequest);
    }
}
