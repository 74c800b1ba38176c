using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Retransmissions and replays (RFC 9810 §5.1.1, RFC 9483 §3.5): an identical request gets the
/// identical stored answer and never a second certificate; a different request cannot reuse a transactionID.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class DuplicateAndReplayTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private byte[] Ir(string name = "duplicate") =>
        _session.BuildEnrollment(initial: true, new X509Name($"CN={name}-{Guid.NewGuid():N}"), _key);

    [Fact]
    public async Task Retransmitted_ir_gets_the_byte_identical_ip_and_no_second_certificate()
    {
        byte[] ir = Ir();
        Exchange first = await cluster.SendAsync(Aliases.Pbe, _session, ir);

        Exchange again = await cluster.SendAsync(Aliases.Pbe, _session, ir);

        ProtocolAssert.Granted(first.View, PkiBodyType.Ip);
        Assert.Equal(first.Response, again.Response);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Single(snapshot.CertificateKeys);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, snapshot.Phase);
    }

    [Fact]
    public async Task Retransmitted_certConf_after_pkiConf_gets_the_identical_pkiConf()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, Ir());
        byte[] certConf = _session.BuildCertConf(ip.View.CertificateDer!);
        Exchange first = await cluster.SendAsync(Aliases.Pbe, _session, certConf);

        Exchange again = await cluster.SendAsync(Aliases.Pbe, _session, certConf);

        Assert.Equal(PkiBodyType.PkiConf, first.View.BodyType);
        Assert.Equal(first.Response, again.Response);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task A_different_ir_with_the_transactionID_of_a_transaction_awaiting_confirmation_is_transactionIdInUse()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, Ir());

        Exchange second = await cluster.SendAsync(Aliases.Pbe, _session, Ir("second"));

        ProtocolAssert.Rejected(second.View, PkiFailureInfo.TransactionIdInUse);
        ProtocolAssert.AnswersLastRequest(second.View, _session);
        // Refused before it could touch the transaction: still one certificate, still waiting, still confirmable.
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Single(snapshot.CertificateKeys);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, snapshot.Phase);
        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { RecipNonce = ip.View.SenderNonce }));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
    }

    [Fact]
    public async Task A_different_ir_with_the_transactionID_of_a_closed_transaction_is_transactionIdInUse()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, Ir());
        await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        Exchange reuse = await cluster.SendAsync(Aliases.Pbe, _session, Ir("reuse"));

        ProtocolAssert.Rejected(reuse.View, PkiFailureInfo.TransactionIdInUse);
        ProtocolAssert.AnswersLastRequest(reuse.View, _session);
        Assert.Single((await cluster.SnapshotAsync(Aliases.Pbe, _session)).CertificateKeys);
    }

    [Fact]
    public async Task The_original_ir_replayed_after_the_transaction_closed_issues_nothing()
    {
        byte[] ir = Ir();
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, ir);
        await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        Exchange replay = await cluster.SendAsync(Aliases.Pbe, _session, ir);

        ProtocolAssert.Rejected(replay.View, PkiFailureInfo.TransactionIdInUse);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Single(snapshot.CertificateKeys);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
    }

    [Fact]
    public async Task An_ir_refused_after_authentication_closes_the_transaction_and_its_retransmission_gets_the_same_error()
    {
        byte[] ir = _session.BuildEnrollment(initial: true, new X509Name("CN=bad-pop"), _key, pop: PopKind.None);
        Exchange first = await cluster.SendAsync(Aliases.Pbe, _session, ir);

        Exchange again = await cluster.SendAsync(Aliases.Pbe, _session, ir);

        ProtocolAssert.Rejected(first.View, PkiFailureInfo.BadPop);
        Assert.Equal(first.Response, again.Response);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Empty(snapshot.CertificateKeys);
    }

    [Fact]
    public async Task The_same_transactionID_on_another_alias_is_another_transaction()
    {
        Exchange onPbe = await cluster.SendAsync(Aliases.Pbe, _session, Ir());

        Exchange onSigned = await cluster.SendAsync(Aliases.Signed, _session, Ir("other-alias"));

        ProtocolAssert.Granted(onPbe.View, PkiBodyType.Ip);
        ProtocolAssert.Granted(onSigned.View, PkiBodyType.Ip);
        Assert.NotEqual(
            Assert.Single((await cluster.SnapshotAsync(Aliases.Pbe, _session)).CertificateKeys),
            Assert.Single((await cluster.SnapshotAsync(Aliases.Signed, _session)).CertificateKeys));
    }
}
