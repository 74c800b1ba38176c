using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using static CmpCluster.Tests.Grains.LifecycleDevices;

namespace CmpCluster.Tests.Grains;

/// <summary>rr (RFC 9483 §4.2) and the revocation rows of EJBCA's CMP error table, RA mode with HMAC.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RevocationRequestTests(CmpClusterFixture cluster)
{
    private async Task<Exchange> RevokeAsync(byte[] certificate, int? reason, string alias = Aliases.Pbe)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        return await cluster.SendAsync(alias, session, session.BuildRevocation(certificate, reason));
    }

    private async Task<Exchange> RevokeAsync(X509Name? issuer, DerInteger? serial, Asn1Encodable? reason, X509Name? subject = null)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        return await cluster.SendAsync(Aliases.Pbe, session, session.BuildRevocation(issuer, serial, reason, subject));
    }

    private X509Name CaName => cluster.Ca.Ca.Certificate.Subject;

    [Fact]
    public async Task A_certificate_is_revoked_once_with_reason_and_time()
    {
        Device device = await EnrolledByRaAsync(cluster);
        CmpClientSession session = CmpClusterFixture.NewSession();
        DateTimeOffset before = DateTimeOffset.UtcNow;

        Exchange rp = await cluster.SendAsync(Aliases.Pbe, session, session.BuildRevocation(device.Certificate, (int)RevocationReason.KeyCompromise));

        RevocationAssert.Granted(rp.View);
        ProtocolAssert.AnswersLastRequest(rp.View, session);
        Assert.True(session.VerifyMac(rp.Response));
        CertificateRecord record = (await RecordAsync(cluster, device.CertificateKey))!;
        Assert.Equal(CertificateStatus.Revoked, record.Status);
        Assert.Equal(RevocationReason.KeyCompromise, record.RevocationReason);
        Assert.InRange(record.RevokedAt!.Value, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal([device.CertificateKey], snapshot.CertificateKeys);

        // A retransmission gets the stored answer; the revocation is not repeated.
        byte[] again = await cluster.Transaction(Aliases.Pbe, session).HandleAsync(new CmpRequest(Aliases.Pbe, rp.Request));
        Assert.Equal(rp.Response, again);
        Assert.Equal(record.RevokedAt, (await RecordAsync(cluster, device.CertificateKey))!.RevokedAt);
    }

    [Fact]
    public async Task Revoking_again_is_certRevoked_and_keeps_the_first_revocation()
    {
        Device device = await EnrolledByRaAsync(cluster);
        RevocationAssert.Granted((await RevokeAsync(device.Certificate, (int)RevocationReason.CessationOfOperation)).View);
        CertificateRecord first = (await RecordAsync(cluster, device.CertificateKey))!;

        RevocationAssert.Rejected((await RevokeAsync(device.Certificate, (int)RevocationReason.KeyCompromise)).View, PkiFailureInfo.CertRevoked);

        CertificateRecord after = (await RecordAsync(cluster, device.CertificateKey))!;
        Assert.Equal(RevocationReason.CessationOfOperation, after.RevocationReason);
        Assert.Equal(first.RevokedAt, after.RevokedAt);
    }

    [Fact]
    public async Task Without_a_reason_code_the_reason_is_unspecified()
    {
        Device device = await EnrolledByRaAsync(cluster);

        RevocationAssert.Granted((await RevokeAsync(device.Certificate, reason: null)).View);

        Assert.Equal(RevocationReason.Unspecified, (await RecordAsync(cluster, device.CertificateKey))!.RevocationReason);
    }

    [Fact]
    public async Task An_unknown_serial_is_badCertId()
    {
        RevocationAssert.Rejected((await RevokeAsync(CaName, DerInteger.ValueOf(0x7abcdef1234), new DerEnumerated(1))).View, PkiFailureInfo.BadCertId);
    }

    [Fact]
    public async Task A_missing_serial_or_issuer_is_badCertId()
    {
        Device device = await EnrolledByRaAsync(cluster);
        var certificate = X509CertificateStructure.GetInstance(device.Certificate);

        RevocationAssert.Rejected((await RevokeAsync(CaName, null, new DerEnumerated(1))).View, PkiFailureInfo.BadCertId);
        RevocationAssert.Rejected((await RevokeAsync(null, certificate.SerialNumber, new DerEnumerated(1))).View, PkiFailureInfo.BadCertId);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(255)]
    public async Task A_reason_that_is_not_a_CRLReason_is_incorrectData(int reason)
    {
        Device device = await EnrolledByRaAsync(cluster);

        RevocationAssert.Rejected((await RevokeAsync(device.Certificate, reason)).View, PkiFailureInfo.IncorrectData);

        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
    }

    [Fact]
    public async Task A_reason_code_that_cannot_be_parsed_is_incorrectData()
    {
        Device device = await EnrolledByRaAsync(cluster);
        var certificate = X509CertificateStructure.GetInstance(device.Certificate);

        Exchange rp = await RevokeAsync(CaName, certificate.SerialNumber, new DerUtf8String("keyCompromise"));

        RevocationAssert.Rejected(rp.View, PkiFailureInfo.IncorrectData);
    }

    [Fact]
    public async Task An_issuer_that_is_not_our_CA_is_badRequest()
    {
        Device device = await EnrolledByRaAsync(cluster);
        var certificate = X509CertificateStructure.GetInstance(device.Certificate);

        Exchange rp = await RevokeAsync(new X509Name("CN=Some Other CA"), certificate.SerialNumber, new DerEnumerated(1));

        RevocationAssert.Rejected(rp.View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task A_subject_that_is_not_the_certificates_is_badCertId()
    {
        Device device = await EnrolledByRaAsync(cluster);
        var certificate = X509CertificateStructure.GetInstance(device.Certificate);

        Exchange rp = await RevokeAsync(CaName, certificate.SerialNumber, new DerEnumerated(1), new X509Name("CN=not-the-subject"));

        RevocationAssert.Rejected(rp.View, PkiFailureInfo.BadCertId);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
    }

    [Fact]
    public async Task CertificateHold_is_badRequest_unless_the_profile_allows_it()
    {
        Device device = await EnrolledByRaAsync(cluster);

        RevocationAssert.Rejected((await RevokeAsync(device.Certificate, (int)RevocationReason.CertificateHold)).View, PkiFailureInfo.BadRequest);

        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
    }

    [Fact]
    public async Task A_hold_allowed_by_the_profile_is_released_by_removeFromCRL()
    {
        Device device = await EnrolledByRaAsync(cluster, Aliases.Hold);

        RevocationAssert.Granted((await RevokeAsync(device.Certificate, (int)RevocationReason.CertificateHold, Aliases.Hold)).View);
        CertificateRecord held = (await RecordAsync(cluster, device.CertificateKey))!;
        Assert.Equal((CertificateStatus.Revoked, RevocationReason.CertificateHold), (held.Status, held.RevocationReason));

        RevocationAssert.Granted((await RevokeAsync(device.Certificate, (int)RevocationReason.RemoveFromCrl, Aliases.Hold)).View);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);

        // Not on hold any more: another removeFromCRL is refused; a real revocation still works.
        RevocationAssert.Rejected((await RevokeAsync(device.Certificate, (int)RevocationReason.RemoveFromCrl, Aliases.Hold)).View, PkiFailureInfo.BadRequest);
        RevocationAssert.Granted((await RevokeAsync(device.Certificate, (int)RevocationReason.KeyCompromise, Aliases.Hold)).View);
    }

    [Fact]
    public async Task A_wrong_RA_secret_is_an_error_message_and_revokes_nothing()
    {
        Device device = await EnrolledByRaAsync(cluster);
        CmpClientSession session = CmpClusterFixture.NewSession("wrong secret");

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session, session.BuildRevocation(device.Certificate, 1));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
    }
}

/// <summary>rr in client mode: only the owner revokes, with a signature by one of its own certificates.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class OwnerRevocationTests(CmpClusterFixture cluster)
{
    [Fact]
    public async Task The_owner_revokes_its_certificate_with_its_signature()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange rp = await cluster.SendAsync(Aliases.ClientByCertificate, session, session.BuildRevocation(device.Certificate, (int)RevocationReason.KeyCompromise));

        RevocationAssert.Granted(rp.View);
        Assert.True(rp.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
        Assert.Equal(RevocationReason.KeyCompromise, (await RecordAsync(cluster, device.CertificateKey))!.RevocationReason);
    }

    [Fact]
    public async Task Another_end_entitys_certificate_is_notAuthorized()
    {
        Device device = await EnrolledAsync(cluster);
        Device other = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange rp = await cluster.SendAsync(Aliases.ClientByCertificate, session, session.BuildRevocation(other.Certificate, 1));

        RevocationAssert.Rejected(rp.View, PkiFailureInfo.NotAuthorized);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, other.CertificateKey))!.Status);
    }

    [Fact]
    public async Task Client_mode_revocation_without_the_EndEntityCertificate_module_is_badRequest()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange error = await cluster.SendAsync(Aliases.Client, session, session.BuildRevocation(device.Certificate, 1));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task An_RA_administrator_may_revoke_any_certificate_of_its_CA()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = (await EnrolledAsync(cluster, Aliases.RaAdministrator)).Signer();

        Exchange rp = await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildRevocation(device.Certificate, (int)RevocationReason.AffiliationChanged));

        RevocationAssert.Granted(rp.View);
        Assert.Equal(RevocationReason.AffiliationChanged, (await RecordAsync(cluster, device.CertificateKey))!.RevocationReason);
    }
}
