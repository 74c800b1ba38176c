using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// CRLs and OCSP with the real node and the real OpenSSL: enroll with <c>openssl cmp</c>, revoke through the admin API
/// or by never confirming, then check with <c>openssl crl</c> and <c>openssl ocsp</c> as a relying party would.
/// </summary>
public sealed class RevocationOpenSslTests(RevocationNodeFixture fixture) : IClassFixture<RevocationNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task A_certificate_revoked_through_the_admin_api_is_on_a_crl_that_openssl_verifies()
    {
        using var dir = new TempDirectory("revocation-crl");
        string cert = await fixture.EnrollAsync(dir.Path, "crl-leaf");
        using X509Certificate2 certificate = E2e.LoadCertificate(cert);
        string serial = E2e.SerialHex(certificate);

        await fixture.RevokeAsync(serial, "keyCompromise");
        await fixture.RevokeAsync(serial, "keyCompromise", HttpStatusCode.Conflict);
        await fixture.RevokeAsync("1234ABCD", "keyCompromise", HttpStatusCode.NotFound);
        await fixture.RevokeAsync(serial, "certificateHold", HttpStatusCode.BadRequest);
        string crl = await fixture.WaitForCrlListingAsync(dir.Path, serial, TimeSpan.FromSeconds(30));

        OpenSslResult verify = await OpenSsl.RunAsync(dir.Path, "crl", "-in", crl, "-inform", "DER", "-CAfile", Node.CaChainPath, "-noout", "-verify");
        E2e.Succeeded(verify, Node);
        E2e.OutputContains(verify, "verify OK", Node);
        OpenSslResult text = await OpenSsl.RunAsync(dir.Path, "crl", "-in", crl, "-inform", "DER", "-noout", "-text");
        E2e.Succeeded(text, Node);
        E2e.OutputContains(text, "Serial Number: " + RevocationNodeFixture.OpenSslSerial(cert), Node);
        E2e.OutputContains(text, "Key Compromise", Node);
        E2e.OutputContains(text, "X509v3 CRL Number", Node);

        using HttpClient http = Node.CreateHttpClient();
        string pem = await http.GetStringAsync("crl/issuing.pem");
        Assert.StartsWith("-----BEGIN X509 CRL-----", pem);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("crl/nosuchca.crl")).StatusCode);
    }

    [Fact]
    public async Task Openssl_ocsp_gets_good_revoked_and_unknown_in_verified_responses()
    {
        using var dir = new TempDirectory("revocation-ocsp");
        string live = await fixture.EnrollAsync(dir.Path, "ocsp-live");
        string revoked = await fixture.EnrollAsync(dir.Path, "ocsp-revoked");
        using (X509Certificate2 certificate = E2e.LoadCertificate(revoked))
        {
            await fixture.RevokeAsync(E2e.SerialHex(certificate), "superseded");
        }

        OpenSslResult good = await fixture.OcspAsync(dir.Path, "-cert", live);
        OpenSslResult bad = await fixture.OcspAsync(dir.Path, "-cert", revoked);
        OpenSslResult unknown = await fixture.OcspAsync(dir.Path, "-serial", "0x1234");

        foreach (OpenSslResult result in new[] { good, bad, unknown })
        {
            E2e.Succeeded(result, Node);
            E2e.OutputContains(result, "Response verify OK", Node);
            E2e.OutputLacks(result, "WARNING: no nonce in response", Node);
        }
        E2e.OutputContains(good, live + ": good", Node);
        E2e.OutputContains(bad, revoked + ": revoked", Node);
        E2e.OutputContains(bad, "Reason: superseded", Node);
        E2e.OutputContains(unknown, "0x1234: unknown", Node);

        // Transport faults are HTTP statuses (RFC 6960 Appendix A.1); a DER request also works over GET.
        using HttpClient http = Node.CreateHttpClient();
        using var wrongType = new ByteArrayContent([0x30, 0x00]);
        wrongType.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await http.PostAsync("ocsp", wrongType)).StatusCode);
        using var tooLarge = new ByteArrayContent(new byte[17 * 1024]);
        tooLarge.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.PostAsync("ocsp", tooLarge)).StatusCode);
        string request = dir.File("request.der");
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "ocsp", "-issuer", Node.IssuingCaPath, "-cert", live, "-reqout", request), Node);
        using HttpResponseMessage get = await http.GetAsync("ocsp/" + Uri.EscapeDataString(Convert.ToBase64String(await File.ReadAllBytesAsync(request))));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("application/ocsp-response", get.Content.Headers.ContentType?.MediaType);
        var response = new Org.BouncyCastle.Ocsp.OcspResp(await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(Org.BouncyCastle.Ocsp.OcspRespStatus.Successful, response.Status);
    }

    [Fact]
    public async Task An_unconfirmed_certificate_revoked_at_the_confirm_timeout_is_on_the_crl_and_revoked_in_ocsp()
    {
        using var dir = new TempDirectory("revocation-timeout");
        string cert = await fixture.EnrollAsync(dir.Path, "unconfirmed", new CmpEnrollment
        {
            Path = ".well-known/cmp/p/" + RevocationNodeFixture.ShortConfirmAlias,
            Secret = RevocationNodeFixture.ShortConfirmSecret,
            Extra = ["-disable_confirm"],
        });
        using X509Certificate2 certificate = E2e.LoadCertificate(cert);

        string crl = await fixture.WaitForCrlListingAsync(dir.Path, E2e.SerialHex(certificate), TimeSpan.FromSeconds(60));

        OpenSslResult text = await OpenSsl.RunAsync(dir.Path, "crl", "-in", crl, "-inform", "DER", "-noout", "-text");
        E2e.OutputContains(text, "Serial Number: " + RevocationNodeFixture.OpenSslSerial(cert), Node);
        OpenSslResult ocsp = await fixture.OcspAsync(dir.Path, "-cert", cert);
        E2e.OutputContains(ocsp, "Response verify OK", Node);
        E2e.OutputContains(ocsp, cert + ": revoked", Node);
        E2e.OutputContains(ocsp, "Reason: cessationOfOperation", Node);
    }

    [Fact]
    public async Task Issued_certificates_point_to_the_crl_and_the_ocsp_responder()
    {
        using var dir = new TempDirectory("revocation-urls");
        string cert = await fixture.EnrollAsync(dir.Path, "urls");

        OpenSslResult text = await OpenSsl.RunAsync(dir.Path, "x509", "-in", cert, "-noout", "-text");

        E2e.Succeeded(text, Node);
        E2e.OutputContains(text, "X509v3 CRL Distribution Points", Node);
        E2e.OutputContains(text, $"URI:{RevocationNodeFixture.PublicBaseUrl}/crl/issuing.crl", Node);
        E2e.OutputContains(text, "Authority Information Access", Node);
        E2e.OutputContains(text, $"OCSP - URI:{RevocationNodeFixture.PublicBaseUrl}/ocsp", Node);
    }
}
