using System.Security.Cryptography.X509Certificates;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// Revocations made over CMP reach the relying parties: <c>openssl cmp -cmd rr</c> (by the RA, and by the owner) puts
/// the certificate on the CRL and makes OCSP answer revoked with the requested reason.
/// </summary>
public sealed class CmpRevocationPublishingTests(RevocationNodeFixture fixture) : IClassFixture<RevocationNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task A_certificate_revoked_by_rr_is_on_the_crl_and_revoked_in_ocsp_with_its_reason()
    {
        using var dir = new TempDirectory("rr-publish");
        string cert = await fixture.EnrollAsync(dir.Path, "rr-leaf");
        string live = await fixture.EnrollAsync(dir.Path, "rr-live");

        OpenSslResult rr = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "rr", "-server", Node.Server, "-path", ".well-known/cmp/p/ra",
            "-ref", "ra", "-secret", "pass:changeit", "-oldcert", cert, "-revreason", "1", "-trusted", Node.RootCaPath);
        E2e.Succeeded(rr, Node);

        using X509Certificate2 certificate = E2e.LoadCertificate(cert);
        string crl = await fixture.WaitForCrlListingAsync(dir.Path, E2e.SerialHex(certificate), TimeSpan.FromSeconds(30));
        OpenSslResult verify = await OpenSsl.RunAsync(dir.Path, "crl", "-in", crl, "-inform", "DER", "-CAfile", Node.CaChainPath, "-noout", "-verify", "-text");
        E2e.Succeeded(verify, Node);
        E2e.OutputContains(verify, "verify OK", Node);
        E2e.OutputContains(verify, "Serial Number: " + RevocationNodeFixture.OpenSslSerial(cert), Node);
        E2e.OutputContains(verify, "Key Compromise", Node);
        E2e.OutputLacks(verify, "Serial Number: " + RevocationNodeFixture.OpenSslSerial(live), Node);

        OpenSslResult revoked = await fixture.OcspAsync(dir.Path, "-cert", cert);
        E2e.OutputContains(revoked, "Response verify OK", Node);
        E2e.OutputContains(revoked, cert + ": revoked", Node);
        E2e.OutputContains(revoked, "Reason: keyCompromise", Node);
        OpenSslResult good = await fixture.OcspAsync(dir.Path, "-cert", live);
        E2e.OutputContains(good, live + ": good", Node);
    }

    [Fact]
    public async Task A_kur_renewal_keeps_the_old_certificate_good_in_ocsp()
    {
        using var dir = new TempDirectory("kur-publish");
        string cert = await fixture.EnrollAsync(dir.Path, "kur-leaf");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "new.key.pem");

        OpenSslResult kur = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "kur", "-server", Node.Server, "-path", ".well-known/cmp/p/client",
            "-cert", cert, "-key", "kur-leaf.key.pem", "-newkey", "new.key.pem", "-certout", "renewed.pem", "-trusted", Node.RootCaPath);
        E2e.Succeeded(kur, Node);

        OpenSslResult old = await fixture.OcspAsync(dir.Path, "-cert", cert);
        OpenSslResult renewed = await fixture.OcspAsync(dir.Path, "-cert", "renewed.pem");
        E2e.OutputContains(old, cert + ": good", Node);
        E2e.OutputContains(renewed, "renewed.pem: good", Node);
    }
}
