using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// An alias that allows only HMAC-SHA256 for PasswordBasedMac (Cmp:Aliases:NAME:MacProtection) refuses OpenSSL's default
/// hmac-sha1 with badAlg before any hashing, and accepts the same request made with -mac hmacWithSHA256.
/// </summary>
public sealed class MacAlgorithmOpenSslTests
{
    [Fact]
    public async Task An_alias_that_allows_only_hmac_sha256_refuses_openssls_default_hmac_sha1()
    {
        await using NodeProcess node = await NodeProcess.StartAsync([
            "--Cmp:Aliases:strict:Secret=strict-secret", "--Cmp:Aliases:strict:ResponseProtection=Pbe",
            "--Cmp:Aliases:strict:MacProtection:AllowedMacAlgorithms:0=HMAC-SHA256",
            "--Cmp:Aliases:strict:MacProtection:MinIterations=500"]);
        using var dir = new TempDirectory("mac-floor");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        var enrollment = new CmpEnrollment
        {
            Path = "cmp/strict", Reference = "strict", Secret = "strict-secret", Subject = "/CN=mac-floor/O=Example",
            Trusted = node.RootCaPath, Extra = ["-unprotected_errors"],
        };

        OpenSslResult sha1 = await enrollment.RunAsync(node, dir.Path);
        E2e.Failed(sha1, node);
        E2e.OutputContains(sha1, "badAlg", node);

        OpenSslResult sha256 = await (enrollment with { Extra = ["-mac", "hmacWithSHA256"], CertOut = "cert2.pem" }).RunAsync(node, dir.Path);
        E2e.Succeeded(sha256, node);
    }
}
