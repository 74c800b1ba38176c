using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// kur and rr with the real OpenSSL client against the shipped aliases: a device enrolls on <c>ra</c> (HMAC), renews with
/// <c>openssl cmp -cmd kur</c> on <c>client</c> signed by its current certificate, and is revoked with
/// <c>openssl cmp -cmd rr</c> by the RA or by itself; the revocation rows of EJBCA's CMP error table come back as openssl reports them.
/// </summary>
public sealed class KeyUpdateAndRevocationOpenSslTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    private async Task<(string Cert, string Key)> EnrollAsync(TempDirectory dir, string name)
    {
        await OpenSsl.GenerateP256KeyAsync(dir.Path, name + ".key.pem");
        OpenSslResult ir = await new CmpEnrollment
        {
            Subject = $"/CN={name}/O=Example", KeyFile = name + ".key.pem", CertOut = name + ".pem",
        }.RunAsync(Node, dir.Path);
        E2e.Succeeded(ir, Node);
        return (name + ".pem", name + ".key.pem");
    }

    private Task<OpenSslResult> KurAsync(TempDirectory dir, string cert, string key, string newKey, string certOut) =>
        OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "kur", "-server", Node.Server, "-path", ".well-known/cmp/p/client",
            "-cert", cert, "-key", key, "-newkey", newKey, "-certout", certOut, "-trusted", Node.RootCaPath);

    private Task<OpenSslResult> RaRevokeAsync(TempDirectory dir, string cert, int reason) =>
        OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "rr", "-server", Node.Server, "-path", ".well-known/cmp/p/ra",
            "-ref", "ra", "-secret", "pass:changeit", "-oldcert", cert, "-revreason", reason.ToString(), "-trusted", Node.RootCaPath);

    private async Task<CertificateRecord> RecordAsync(string certPath)
    {
        using X509Certificate2 certificate = E2e.LoadCertificate(certPath);
        OrleansTestClient client = await fixture.ClientAsync();
        return (await client.CertificateAsync("issuing", E2e.SerialHex(certificate)))!;
    }

    [Fact]
    public async Task Kur_with_a_new_key_renews_and_with_the_same_key_is_badMessageCheck()
    {
        using var dir = new TempDirectory("kur");
        (string cert, string key) = await EnrollAsync(dir, "gnb-renew");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "new.key.pem");

        OpenSslResult kur = await KurAsync(dir, cert, key, "new.key.pem", "renewed.pem");

        E2e.Succeeded(kur, Node);
        E2e.OutputContains(kur, "received PKICONF", Node);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("renewed.pem"), dir.File("new.key.pem"),
            [("2.5.4.3", "gnb-renew"), ("2.5.4.10", "Example")]);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(dir.File("renewed.pem"))).Status);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(dir.File(cert))).Status);

        OpenSslResult sameKey = await KurAsync(dir, "renewed.pem", "new.key.pem", "new.key.pem", "again.pem");

        E2e.Failed(sameKey, Node);
        E2e.OutputContains(sameKey, "badMessageCheck", Node);
        Assert.False(File.Exists(dir.File("again.pem")));
    }

    [Fact]
    public async Task Rr_revokes_with_the_reason_once_and_refusals_get_the_failInfo_of_the_EJBCA_error_table()
    {
        using var dir = new TempDirectory("rr");
        (string cert, string key) = await EnrollAsync(dir, "gnb-revoke");

        OpenSslResult revoked = await RaRevokeAsync(dir, cert, reason: 1);
        E2e.Succeeded(revoked, Node);
        E2e.OutputContains(revoked, "revocation accepted", Node);
        CertificateRecord record = await RecordAsync(dir.File(cert));
        Assert.Equal((CertificateStatus.Revoked, RevocationReason.KeyCompromise), (record.Status, record.RevocationReason));

        OpenSslResult again = await RaRevokeAsync(dir, cert, reason: 4);
        E2e.Failed(again, Node);
        E2e.OutputContains(again, "certRevoked", Node);
        Assert.Equal(RevocationReason.KeyCompromise, (await RecordAsync(dir.File(cert))).RevocationReason);

        // A revoked certificate can no longer renew itself.
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "new.key.pem");
        OpenSslResult kur = await KurAsync(dir, cert, key, "new.key.pem", "renewed.pem");
        E2e.Failed(kur, Node);
        E2e.OutputContains(kur, "badRequest", Node);

        // certificateHold is refused by the default profile.
        (string held, _) = await EnrollAsync(dir, "gnb-hold");
        OpenSslResult hold = await RaRevokeAsync(dir, held, reason: 6);
        E2e.Failed(hold, Node);
        E2e.OutputContains(hold, "badRequest", Node);
        Assert.Equal(CertificateStatus.Confirmed, (await RecordAsync(dir.File(held))).Status);
    }

    [Fact]
    public async Task The_owner_revokes_its_own_certificate_signed_with_it()
    {
        using var dir = new TempDirectory("rr-owner");
        (string cert, string key) = await EnrollAsync(dir, "gnb-owner");

        OpenSslResult revoked = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "rr", "-server", Node.Server, "-path", ".well-known/cmp/p/client",
            "-cert", cert, "-key", key, "-oldcert", cert, "-revreason", "4", "-trusted", Node.RootCaPath);

        E2e.Succeeded(revoked, Node);
        E2e.OutputContains(revoked, "revocation accepted", Node);
        Assert.Equal(RevocationReason.Superseded, (await RecordAsync(dir.File(cert))).RevocationReason);
    }

    [Fact]
    public async Task An_unknown_serial_is_badCertId_and_an_unknown_CA_is_badRequest()
    {
        using var dir = new TempDirectory("rr-unknown");
        // Certificates from impostor CAs: one with the issuing CA's name (so only the serial is unknown), one with another name.
        await MakeCertificateAsync(dir, "/CN=CmpCluster Issuing CA/O=CmpCluster", "same-name");
        await MakeCertificateAsync(dir, "/CN=Nobody's CA/O=Elsewhere", "other-ca");

        OpenSslResult unknownSerial = await RaRevokeAsync(dir, "same-name.pem", reason: 1);
        E2e.Failed(unknownSerial, Node);
        E2e.OutputContains(unknownSerial, "badCertId", Node);

        OpenSslResult unknownCa = await RaRevokeAsync(dir, "other-ca.pem", reason: 1);
        E2e.Failed(unknownCa, Node);
        E2e.OutputContains(unknownCa, "badRequest", Node);
    }

    /// <summary>A v3 leaf certificate with serial 0x1234567 from a throw-away CA named <paramref name="caSubject"/>.</summary>
    private static async Task MakeCertificateAsync(TempDirectory dir, string caSubject, string name)
    {
        string extensions = dir.File("leaf.ext");
        await File.WriteAllTextAsync(extensions, "basicConstraints=CA:FALSE\n");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, name + ".ca.key");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, name + ".key");
        foreach (string[] step in new[]
        {
            new[] { "req", "-x509", "-new", "-key", name + ".ca.key", "-subj", caSubject, "-days", "2", "-out", name + ".ca.pem" },
            new[] { "req", "-new", "-key", name + ".key", "-subj", "/CN=" + name, "-out", name + ".csr" },
            new[] { "x509", "-req", "-in", name + ".csr", "-CA", name + ".ca.pem", "-CAkey", name + ".ca.key", "-set_serial", "0x1234567",
                "-days", "1", "-extfile", extensions, "-out", name + ".pem" },
        })
        {
            OpenSslResult result = await OpenSsl.RunAsync(dir.Path, step);
            Assert.True(result.Succeeded, result.ToString());
        }
    }
}
