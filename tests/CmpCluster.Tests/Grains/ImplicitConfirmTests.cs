using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.Grains;

/// <summary>implicitConfirm, RFC 9810 §5.1.1.1: granted only when asked for and allowed; then no certConf follows.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ImplicitConfirmTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    [Fact]
    public async Task Requested_and_allowed_implicitConfirm_is_granted_and_the_certificate_is_confirmed_at_once()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name("CN=implicit"), _key, implicitConfirm: true));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(ip.View, _session);
        Assert.True(ip.View.ImplicitConfirmGranted);
        Assert.True(_session.VerifyMac(ip.Response));
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.ImplicitlyConfirmed, snapshot.Outcome);
        Assert.Null(snapshot.ConfirmDeadline);
        Assert.False(await cluster.HasDeadlineAsync(Aliases.Pbe, _session));
    }

    [Fact]
    public async Task Implicitly_confirmed_certificate_is_never_revoked_by_the_confirm_timeout()
    {
        await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name("CN=implicit-no-timeout"), _key, implicitConfirm: true));

        await cluster.Control(Aliases.Pbe, _session).ExpireIfDueAsync();

        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task Requested_implicitConfirm_on_an_alias_that_does_not_allow_it_is_not_granted()
    {
        Exchange ip = await cluster.SendAsync(Aliases.NoImplicitConfirm, _session,
            _session.BuildEnrollment(initial: true, new X509Name("CN=explicit"), _key, implicitConfirm: true));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.False(ip.View.ImplicitConfirmGranted);
        Assert.Equal(CertificateStatus.AwaitingConfirmation,
            (await cluster.IssuedCertificateAsync(Aliases.NoImplicitConfirm, _session)).Status);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, (await cluster.SnapshotAsync(Aliases.NoImplicitConfirm, _session)).Phase);

        // The client must confirm explicitly, and can.
        Exchange conf = await cluster.SendAsync(Aliases.NoImplicitConfirm, _session, _session.BuildCertConf(ip.View.CertificateDer!));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
    }

    [Fact]
    public async Task Without_the_request_implicitConfirm_is_not_granted()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name("CN=not-asked"), _key));

        Assert.False(ip.View.ImplicitConfirmGranted);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }
}
