using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The dev PKI with the selectable CA key algorithms (Pki:KeyAlgorithm): each node bootstraps its own PKI, signs
/// responses with a CMP signer of that algorithm, and OpenSSL's certConf hash follows the CA's signature digest.
/// </summary>
public sealed class CaKeyAlgorithmTests
{
    [Theory]
    [InlineData("EcP384", "1.2.840.10045.4.3.3")] // ecdsa-with-SHA384
    [InlineData("Rsa2048", "1.2.840.113549.1.1.11")] // sha256WithRSAEncryption
    public async Task Node_with_a_non_default_ca_key_issues_and_confirms_with_signed_responses(string algorithm, string signatureOid)
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
        [
            $"--Pki:KeyAlgorithm={algorithm}",
            "--Cmp:Aliases:ra-sig:Secret=sigsecret",
            "--Cmp:Aliases:ra-sig:ResponseProtection=Signature",
        ]);
        using var dir = new TempDirectory("ca-" + algorithm);
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Path = "cmp/ra-sig",
            Reference = "ra-sig",
            Secret = "sigsecret",
            Subject = $"/CN=e2e-{algorithm}",
        }.RunAsync(node, dir.Path);

        E2e.Succeeded(result, node);
        E2e.OutputContains(result, "received PKICONF", node);
        await E2e.AssertIssuedByNodeAsync(node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", $"e2e-{algorithm}")]);
        using X509Certificate2 issued = E2e.LoadCertificate(dir.File("cert.pem"));
        Assert.Equal(signatureOid, issued.SignatureAlgorithm.Value);
        using X509Certificate2 signer = E2e.LoadCertificate(node.CmpSignerPath);
        Assert.Equal(signatureOid, signer.SignatureAlgorithm.Value);
    }
}
