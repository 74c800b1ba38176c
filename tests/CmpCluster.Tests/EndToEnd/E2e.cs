using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Assertions and certificate helpers shared by the end-to-end tests; failures carry openssl's and the node's output.</summary>
public static class E2e
{
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    public static void Succeeded(OpenSslResult result, NodeProcess node) =>
        Assert.True(result.ExitCode == 0, $"expected exit code 0\n{result}\n{node.Diagnostics()}");

    public static void Failed(OpenSslResult result, NodeProcess node) =>
        Assert.True(result.ExitCode != 0, $"expected a non-zero exit code\n{result}\n{node.Diagnostics()}");

    public static void OutputContains(OpenSslResult result, string text, NodeProcess node) =>
        Assert.True(result.Output.Contains(text, StringComparison.Ordinal), $"expected \"{text}\" in openssl's output\n{result}\n{node.Diagnostics()}");

    public static void OutputLacks(OpenSslResult result, string text, NodeProcess node) =>
        Assert.False(result.Output.Contains(text, StringComparison.Ordinal), $"did not expect \"{text}\" in openssl's output\n{result}\n{node.Diagnostics()}");

    public static X509Certificate2 LoadCertificate(string pemPath) => X509Certificate2.CreateFromPem(File.ReadAllText(pemPath));

    /// <summary>Upper-case hex of the positive serial without leading zeros, as <c>GrainKeys.Certificate</c> wants it.</summary>
    public static string SerialHex(X509Certificate2 certificate) =>
        new Org.BouncyCastle.Math.BigInteger(1, Convert.FromHexString(certificate.SerialNumber)).ToString(16).ToUpperInvariant();

    /// <summary>Relative distinguished names in encoded order as (OID, value).</summary>
    public static (string Oid, string? Value)[] Rdns(X500DistinguishedName name) =>
        name.EnumerateRelativeDistinguishedNames(reversed: false).Select(r => (r.GetSingleElementType().Value!, r.GetSingleElementValue())).ToArray();

    public static byte[] PublicKeyOfPrivateKeyPem(string keyPemPath)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyPemPath));
        return key.ExportSubjectPublicKeyInfo();
    }

    /// <summary>
    /// The checks every certificate enrolled with the default profile must pass: chain to the node's root through
    /// the issuing CA (openssl verify), requested subject and key, issuer, key usage and extended key usage.
    /// </summary>
    public static async Task AssertIssuedByNodeAsync(NodeProcess node, string workingDirectory, string certPath, string keyPath,
        (string Oid, string Value)[] expectedSubject)
    {
        Assert.True(File.Exists(certPath), $"openssl wrote no certificate to {certPath}\n{node.Diagnostics()}");
        OpenSslResult verify = await OpenSsl.RunAsync(workingDirectory, "verify", "-CAfile", node.RootCaPath, "-untrusted", node.IssuingCaPath, certPath);
        Assert.True(verify.ExitCode == 0 && verify.Stdout.Contains(": OK", StringComparison.Ordinal), verify.ToString());

        using X509Certificate2 certificate = LoadCertificate(certPath);
        using X509Certificate2 issuing = LoadCertificate(node.IssuingCaPath);
        Assert.Equal(expectedSubject.Select(r => (r.Oid, (string?)r.Value)).ToArray(), Rdns(certificate.SubjectName));
        Assert.Equal(issuing.SubjectName.RawData, certificate.IssuerName.RawData);
        Assert.Equal(PublicKeyOfPrivateKeyPem(keyPath), certificate.PublicKey.ExportSubjectPublicKeyInfo());

        X509BasicConstraintsExtension? basic = certificate.Extensions.OfType<X509BasicConstraintsExtension>().SingleOrDefault();
        Assert.True(basic is null || !basic.CertificateAuthority, "an end-entity certificate must not be a CA");
        X509KeyUsageExtension keyUsage = Assert.Single(certificate.Extensions.OfType<X509KeyUsageExtension>());
        Assert.True(keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature), $"keyUsage is {keyUsage.KeyUsages}");
        X509EnhancedKeyUsageExtension eku = Assert.Single(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        string[] ekus = eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value!).ToArray();
        Assert.Contains(ClientAuthOid, ekus);
        Assert.Contains(ServerAuthOid, ekus);
        Assert.True(certificate.NotBefore <= DateTime.Now && DateTime.Now < certificate.NotAfter,
            $"validity {certificate.NotBefore:O} .. {certificate.NotAfter:O} does not cover now");
    }

    /// <summary>Reads a message openssl saved with <c>-rspout</c>.</summary>
    public static CmpResponseView ReadSaved(string path, NodeProcess node)
    {
        Assert.True(File.Exists(path), $"openssl saved no message to {path}\n{node.Diagnostics()}");
        return CmpResponseView.Parse(File.ReadAllBytes(path));
    }

    /// <summary>One CMP message over HTTP (RFC 6712) to the alias <paramref name="alias"/>; the response DER (HTTP 200 expected).</summary>
    public static async Task<byte[]> PostCmpAsync(HttpClient http, byte[] request, string alias = "ra")
    {
        using var content = new ByteArrayContent(request);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/pkixcmp");
        using HttpResponseMessage response = await http.PostAsync(".well-known/cmp/p/" + alias, content);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static byte[] DerOfPem(string pemPath)
    {
        using X509Certificate2 certificate = LoadCertificate(pemPath);
        return certificate.RawData;
    }
}
