using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using static CmpCluster.Tests.Grains.LifecycleDevices;

namespace CmpCluster.Tests.Grains;

/// <summary>kur in client mode (EJBCA's CMP documentation, "Key Update Request", RFC 9483 §4.1.3): the end entity signs with the certificate it updates.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class KeyUpdateTests(CmpClusterFixture cluster)
{
    private const string Alias = Aliases.ClientByCertificate;

    private Task<Exchange> KurAsync(Device device, ECDsa newKey, string alias = Alias, CmpClientSession? session = null, bool implicitConfirm = false)
    {
        session ??= device.Signer();
        return cluster.SendAsync(alias, session, session.BuildKeyUpdate(newKey, device.Certificate, implicitConfirm: implicitConfirm));
    }

    [Fact]
    public async Task A_new_key_gets_kup_with_the_same_subject_and_names_and_the_old_certificate_stays_valid()
    {
        Device device = await EnrolledAsync(cluster);
        using ECDsa newKey = NewKey();
        CmpClientSession session = device.Signer();

        Exchange kup = await KurAsync(device, newKey, session: session);
        byte[] renewed = ProtocolAssert.Granted(kup.View, PkiBodyType.Kup);
        ProtocolAssert.AnswersLastRequest(kup.View, session);
        Org.BouncyCastle.X509.X509Certificate certificate = ProtocolAssert.IssuedBy(renewed, cluster.Ca);
        ProtocolAssert.Certifies(certificate, device.Subject, newKey.ExportSubjectPublicKeyInfo());
        var oldNames = X509CertificateStructure.GetInstance(device.Certificate).TbsCertificate.Extensions.GetExtension(X509Extensions.SubjectAlternativeName);
        Assert.Equal(oldNames.Value, certificate.CertificateStructure.TbsCertificate.Extensions.GetExtension(X509Extensions.SubjectAlternativeName).Value);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await RecordAsync(cluster, KeyOf(renewed)))!.Status);

        Exchange confirmation = await cluster.SendAsync(Alias, session, session.BuildCertConf(renewed));

        Assert.Equal(PkiBodyType.PkiConf, confirmation.View.BodyType);
        CertificateRecord record = (await RecordAsync(cluster, KeyOf(renewed)))!;
        Assert.Equal(CertificateStatus.Confirmed, record.Status);
        Assert.Equal(device.Username, record.Intent.EndEntity);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
        EndEntityView view = (await EndEntityAsync(cluster, device.Username))!;
        Assert.Equal([device.CertificateKey, KeyOf(renewed)], view.CertificateKeys);
        Assert.False(view.EnrollmentOpen);
    }

    [Fact]
    public async Task The_same_key_is_badMessageCheck_and_issues_nothing()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange error = await KurAsync(device, device.Key, session: session);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        Assert.Empty((await cluster.SnapshotAsync(Alias, session)).CertificateKeys);
        EndEntityView view = (await EndEntityAsync(cluster, device.Username))!;
        Assert.Single(view.CertificateKeys);
        Assert.False(view.EnrollmentOpen);
    }

    [Fact]
    public async Task The_same_key_is_accepted_where_the_alias_allows_it_and_the_updated_certificate_is_superseded()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange kup = await KurAsync(device, device.Key, Aliases.ClientRenewSupersedes, session);
        byte[] renewed = ProtocolAssert.Granted(kup.View, PkiBodyType.Kup);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
        await cluster.SendAsync(Aliases.ClientRenewSupersedes, session, session.BuildCertConf(renewed));

        CertificateRecord old = (await RecordAsync(cluster, device.CertificateKey))!;
        Assert.Equal(CertificateStatus.Revoked, old.Status);
        Assert.Equal(RevocationReason.Superseded, old.RevocationReason);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, KeyOf(renewed)))!.Status);
    }

    [Fact]
    public async Task A_second_kur_while_one_awaits_confirmation_is_refused_until_it_is_confirmed()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession first = device.Signer();
        byte[] renewed = ProtocolAssert.Granted((await KurAsync(device, NewKey(), session: first)).View, PkiBodyType.Kup);

        CmpClientSession second = device.Signer();
        ProtocolAssert.Rejected((await KurAsync(device, NewKey(), session: second)).View, PkiFailureInfo.NotAuthorized);
        Assert.Empty((await cluster.SnapshotAsync(Alias, second)).CertificateKeys);

        await cluster.SendAsync(Alias, first, first.BuildCertConf(renewed));
        ProtocolAssert.Granted((await KurAsync(device, NewKey(), implicitConfirm: true)).View, PkiBodyType.Kup);
    }

    [Fact]
    public async Task An_unconfirmed_update_times_out_revoked_and_releases_the_end_entity()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();
        byte[] renewed = ProtocolAssert.Granted((await KurAsync(device, NewKey(), session: session)).View, PkiBodyType.Kup);
        try
        {
            cluster.Clock.Advance(TimeSpan.FromMinutes(6));
            await cluster.Control(Alias, session).ExpireIfDueAsync();
        }
        finally
        {
            cluster.Clock.Reset();
        }

        Assert.Equal(CertificateStatus.Revoked, (await RecordAsync(cluster, KeyOf(renewed)))!.Status);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, device.CertificateKey))!.Status);
        Assert.False((await EndEntityAsync(cluster, device.Username))!.EnrollmentOpen);
        ProtocolAssert.Granted((await KurAsync(device, NewKey(), implicitConfirm: true)).View, PkiBodyType.Kup);
    }

    [Fact]
    public async Task Implicit_confirmation_closes_the_update_at_once_and_supersedes_where_configured()
    {
        Device device = await EnrolledAsync(cluster);

        Exchange kup = await KurAsync(device, NewKey(), Aliases.ClientRenewSupersedes, implicitConfirm: true);

        Assert.True(kup.View.ImplicitConfirmGranted);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, KeyOf(ProtocolAssert.Granted(kup.View, PkiBodyType.Kup))))!.Status);
        Assert.Equal(RevocationReason.Superseded, (await RecordAsync(cluster, device.CertificateKey))!.RevocationReason);
        Assert.False((await EndEntityAsync(cluster, device.Username))!.EnrollmentOpen);
    }

    [Fact]
    public async Task OldCertId_naming_another_certificate_is_notAuthorized()
    {
        Device device = await EnrolledAsync(cluster);
        Device other = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange error = await cluster.SendAsync(Alias, session, session.BuildKeyUpdate(NewKey(), other.Certificate, subject: device.Subject));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task A_template_subject_other_than_the_certificates_is_badCertTemplate()
    {
        Device device = await EnrolledAsync(cluster);
        CmpClientSession session = device.Signer();

        Exchange error = await cluster.SendAsync(Alias, session,
            session.BuildKeyUpdate(NewKey(), device.Certificate, subject: new X509Name("CN=someone-else,O=Example")));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        Assert.False((await EndEntityAsync(cluster, device.Username))!.EnrollmentOpen);
    }

    [Fact]
    public async Task A_deleted_end_entity_cannot_update_badMessageCheck()
    {
        Device device = await EnrolledAsync(cluster);
        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(device.Username)).DeleteAsync();

        ProtocolAssert.Rejected((await KurAsync(device, NewKey())).View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task A_revoked_certificate_cannot_be_updated_badRequest()
    {
        Device device = await EnrolledAsync(cluster);
        await cluster.Internal.GetGrain<ICertificateGrain>(device.CertificateKey).RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));

        ProtocolAssert.Rejected((await KurAsync(device, NewKey())).View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task Kur_on_an_alias_without_the_EndEntityCertificate_module_is_badRequest()
    {
        Device device = await EnrolledAsync(cluster);

        ProtocolAssert.Rejected((await KurAsync(device, NewKey(), Aliases.Client)).View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task A_signature_by_another_key_is_badMessageCheck()
    {
        Device device = await EnrolledAsync(cluster);
        var session = new CmpClientSession("unused", "x").SignWith(NewKey(), device.Certificate);

        ProtocolAssert.Rejected((await KurAsync(device, NewKey(), session: session)).View, PkiFailureInfo.BadMessageCheck);
    }
}

/// <summary>kur in RA mode (EJBCA's CMP documentation, "In RA Mode"): an RA administrator signs on behalf of the end entity named in the template.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RaKeyUpdateTests(CmpClusterFixture cluster)
{
    private async Task<CmpClientSession> AdministratorAsync()
    {
        Device administrator = await EnrolledAsync(cluster, Aliases.RaAdministrator);
        return administrator.Signer();
    }

    [Fact]
    public async Task An_RA_administrator_updates_the_certificate_of_the_end_entity_named_by_subject()
    {
        Device device = await EnrolledByRaAsync(cluster);
        CmpClientSession session = await AdministratorAsync();
        using ECDsa newKey = NewKey();

        Exchange kup = await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildKeyUpdate(newKey, null, subject: device.Subject));

        byte[] renewed = ProtocolAssert.Granted(kup.View, PkiBodyType.Kup);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(renewed, cluster.Ca), device.Subject, newKey.ExportSubjectPublicKeyInfo());
        Exchange confirmation = await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildCertConf(renewed));
        Assert.Equal(PkiBodyType.PkiConf, confirmation.View.BodyType);
        EndEntityView view = (await EndEntityAsync(cluster, device.Username))!;
        Assert.Equal([device.CertificateKey, KeyOf(renewed)], view.CertificateKeys);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(cluster, KeyOf(renewed)))!.Status);
    }

    [Fact]
    public async Task OldCertId_names_the_certificate_to_update()
    {
        Device device = await EnrolledByRaAsync(cluster);
        CmpClientSession session = await AdministratorAsync();

        Exchange kup = await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildKeyUpdate(NewKey(), device.Certificate, implicitConfirm: true));

        Assert.Equal(device.Username, (await RecordAsync(cluster, KeyOf(ProtocolAssert.Granted(kup.View, PkiBodyType.Kup))))!.Intent.EndEntity);
    }

    [Fact]
    public async Task A_template_without_subject_is_badRequest()
    {
        CmpClientSession session = await AdministratorAsync();

        ProtocolAssert.Rejected((await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildKeyUpdate(NewKey(), null))).View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task An_unknown_end_entity_is_badMessageCheck()
    {
        CmpClientSession session = await AdministratorAsync();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, session,
            session.BuildKeyUpdate(NewKey(), null, subject: new X509Name($"CN=nobody-{Guid.NewGuid():N}")));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task An_RA_that_is_not_an_administrator_is_notAuthorized()
    {
        Device device = await EnrolledByRaAsync(cluster);
        Device stranger = await EnrolledAsync(cluster);
        CmpClientSession session = stranger.Signer();

        Exchange error = await cluster.SendAsync(Aliases.RaAdmin, session, session.BuildKeyUpdate(NewKey(), null, subject: device.Subject));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task Kur_on_an_HMAC_only_RA_alias_is_badRequest()
    {
        Device device = await EnrolledByRaAsync(cluster);
        CmpClientSession session = CmpClusterFixture.NewSession();

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session, session.BuildKeyUpdate(NewKey(), null, subject: device.Subject));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
    }
}
