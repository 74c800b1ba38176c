using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AdminCalls = CmpCluster.Tests.Admin.Admin;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Hsm;

/// <summary>
/// POST /api/v1/cas/import with the CA key on a SoftHSM2 token (<c>pkcs11Token</c>, <c>pkcs11KeyLabel</c>, as
/// <c>Pki:CaKeys</c> names token keys): the key stays on the token, the CA issues to <c>openssl cmp</c> at once and again
/// after a restart; a label the token does not have, or a token the settings do not name, is refused with nothing stored;
/// <c>pki renew-ca --new-key</c> refuses it (a new token key is a key ceremony).
/// </summary>
[Collection(SoftHsmCollection.Name)]
public sealed class HsmCaImportTests
{
    private const string Token = "hsm-import-admin";
    private const string RaSecret = "hsm-import-ra-secret";

    [SoftHsmFact]
    public async Task A_ca_whose_key_is_on_a_token_is_imported_by_label_and_issues_without_a_restart()
    {
        SoftHsm hsm = SoftHsm.Process;
        string label = $"import-{Guid.NewGuid():N}"[..24];
        hsm.InitToken(label);
        PublicKey caKey = hsm.GenerateKeyPair(label, "ceremony-ca", "EC:prime256v1");
        using var files = new TempDirectory("hsm-import");
        (string chain, string rootPath) = Chain(caKey, files);
        await using NodeProcess node = await NodeProcess.StartAsync([$"--Admin:Tokens:0={Token}", "--Cmp:Aliases:bykeyid:Ca=KeyID",
            $"--Pki:CmpRaSecret={RaSecret}", $"--Pki:Tokens:hsm:Library={SoftHsm.Library}", $"--Pki:Tokens:hsm:TokenLabel={label}",
            $"--Pki:Tokens:hsm:Pin={SoftHsm.Pin}"]);
        using HttpClient client = AdminCalls.Client(node, Token, TimeSpan.FromSeconds(60));

        foreach ((JsonObject body, string field) in new[]
        {
            (Body("missing-label", chain, "hsm", "no-such-key"), "pkcs11KeyLabel"),
            (Body("no-token", chain, "nope", "ceremony-ca"), "pkcs11Token"),
        })
        {
            (HttpResponseMessage refused, string text) = await AdminCalls.SendAsync(client, HttpMethod.Post, "/api/v1/cas/import", body);
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, text);
            Assert.NotNull(JsonNode.Parse(text)!["errors"]![field]);
            Assert.False(Directory.Exists(Path.Combine(node.DataDirectory, "pki-" + (string)body["name"]!)));
        }
        (HttpResponseMessage response, string created) = await AdminCalls.SendAsync(client, HttpMethod.Post, "/api/v1/cas/import",
            Body("hsmca", chain, "hsm", "ceremony-ca"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, created + node.OutputTail());

        string folder = Path.Combine(node.DataDirectory, "pki-hsmca");
        Assert.False(File.Exists(Path.Combine(folder, "issuing-ca.key.pem"))); // the key stays on the token
        // A new key on a token is a key ceremony: pki renew-ca --new-key refuses, saying so, and changes nothing.
        string issuing = await File.ReadAllTextAsync(Path.Combine(folder, "issuing-ca.pem"));
        var ceremony = new StringWriter();
        Assert.Equal(1, CmpCluster.Silo.PkiCommand.Run(["pki", "renew-ca", "--new-key", "--ca", "hsmca", "--data", node.DataDirectory], ceremony));
        Assert.Contains("PKCS#11 token", ceremony.ToString());
        Assert.Equal(issuing, await File.ReadAllTextAsync(Path.Combine(folder, "issuing-ca.pem")));
        using var dir = new TempDirectory("hsm-import-enroll");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await EnrollAndVerifyAsync(node, dir, rootPath, folder, "first.pem");
        await node.StopAsync();
        await node.StartAsync();
        await EnrollAndVerifyAsync(node, dir, rootPath, folder, "after-restart.pem");
    }

    private static JsonObject Body(string name, string chain, string token, string keyLabel) => new()
    {
        ["name"] = name, ["certificateChain"] = chain, ["pkcs11Token"] = token, ["pkcs11KeyLabel"] = keyLabel,
    };

    private static async Task EnrollAndVerifyAsync(NodeProcess node, TempDirectory dir, string root, string folder, string certOut)
    {
        OpenSslResult enrolled = await new CmpEnrollment
        {
            Path = "cmp/bykeyid", Reference = "hsmca", Secret = RaSecret, Trusted = root, CertOut = certOut,
        }.RunAsync(node, dir.Path);
        E2e.Succeeded(enrolled, node);
        OpenSslResult verified = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", Path.Combine(folder, "issuing-ca.pem"), certOut);
        E2e.Succeeded(verified, node);
    }

    /// <summary>A ceremony's output: a root (key in this process, never given to the node) certifies the token's CA key.</summary>
    private static (string Chain, string RootPath) Chain(PublicKey caKey, TempDirectory files)
    {
        using ECDsa rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5);
        var rootRequest = new CertificateRequest("CN=HSM Ceremony Root,O=Example", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        using X509Certificate2 root = rootRequest.CreateSelfSigned(now, now.AddYears(5));
        var caRequest = new CertificateRequest(new X500DistinguishedName("CN=HSM Ceremony Issuing CA,O=Example"), caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caKey, false));
        caRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        using X509Certificate2 ca = caRequest.Create(root.SubjectName, X509SignatureGenerator.CreateForECDsa(rootKey), now, now.AddYears(4), [0x42, 0x17]);
        File.WriteAllText(files.File("root.pem"), root.ExportCertificatePem());
        return (ca.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n", files.File("root.pem"));
    }
}
