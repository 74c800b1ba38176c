using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>The delegated OCSP signer of the development PKI, and the start-up checks of the publishing settings.</summary>
public sealed class PkiSetupTests
{
    [Fact]
    public void A_pki_folder_without_an_ocsp_signer_gets_one_and_keeps_its_other_files()
    {
        string data = Path.Combine(Path.GetTempPath(), "cmp-pki-upgrade-" + Guid.NewGuid().ToString("N"));
        try
        {
            DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance);
            string folder = Path.Combine(data, DevelopmentPki.FolderName);
            File.Delete(Path.Combine(folder, "ocsp-signer.pem"));
            File.Delete(Path.Combine(folder, "ocsp-signer.key.pem"));
            Dictionary<string, byte[]> before = Directory.GetFiles(folder).ToDictionary(f => f, File.ReadAllBytes);

            PkiKeyRing ring = DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance);

            foreach ((string file, byte[] content) in before)
            {
                Assert.Equal(content, File.ReadAllBytes(file));
            }
            Assert.Equal(before.Count + 2, Directory.GetFiles(folder).Length);
            Assert.Empty(Directory.GetDirectories(folder)); // no staging left behind
            Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", File.ReadAllText(Path.Combine(folder, "ocsp-signer.key.pem")));
            CertificateAuthorityKeys ca = ring.FindAuthority("issuing")!;
            using X509Certificate2 signer = X509CertificateLoader.LoadCertificate(ca.OcspSigner.CertificateDer);
            using X509Certificate2 issuer = X509CertificateLoader.LoadCertificate(ca.Ca.CertificateDer);
            Assert.Equal(issuer.SubjectName.RawData, signer.IssuerName.RawData);
            Assert.Contains("1.3.6.1.5.5.7.3.9", signer.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
            Assert.Equal(X509KeyUsageFlags.DigitalSignature, signer.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
            Assert.NotNull(signer.Extensions["1.3.6.1.5.5.7.48.1.5"]); // id-pkix-ocsp-nocheck
            Assert.Equal("issuing/ocsp", ca.OcspSigner.Name);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Theory]
    [InlineData("Pki:PublicBaseUrl", "ftp://ca.example")]
    [InlineData("Pki:PublicBaseUrl", "not a url")]
    [InlineData("Pki:Crl:RenewBefore", "renew>=validity")]
    [InlineData("Pki:Crl:CheckPeriod", "zero")]
    [InlineData("Pki:Ocsp:MaxRequestEntries", "0")]
    public void A_bad_publishing_setting_is_refused_naming_its_key(string key, string problem)
    {
        var options = new PkiOptions();
        switch (key)
        {
            case "Pki:PublicBaseUrl": options.PublicBaseUrl = problem; break;
            case "Pki:Crl:RenewBefore": options.Crl.RenewBefore = options.Crl.Validity; break;
            case "Pki:Crl:CheckPeriod": options.Crl.CheckPeriod = TimeSpan.Zero; break;
            case "Pki:Ocsp:MaxRequestEntries": options.Ocsp.MaxRequestEntries = 0; break;
        }

        ValidateOptionsResult result = new PkiOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith(key, StringComparison.Ordinal));
        Assert.True(new PkiOptionsValidator().Validate(null, new PkiOptions()).Succeeded);
    }
}
