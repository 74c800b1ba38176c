using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Client;
using CmpCluster.Silo;
using Microsoft.Extensions.Logging.Abstractions;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The CA's lifecycle made by the CA itself (`pki rollover-root`, `pki renew-ca`, silo/PkiCommand.cs): a root rollover
/// (RFC 4210 §4.4) whose link certificates the system <c>openssl verify</c> accepts, served to a client through genm
/// rootCaKeyUpdate (RFC 9483 §4.3.2) and caPubs; a renewed issuing-CA certificate under which earlier certificates still verify;
/// a renewal with a new key, after which each key's certificates have their own CRL and OCSP answers signed by that key.
/// </summary>
public sealed class CaLifecycleTests
{
    /// <summary>A data directory with a development PKI, as a node's first start makes it.</summary>
    private static string NewDataDirectory(TempDirectory dir)
    {
        string data = dir.File("data");
        DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance);
        return data;
    }

    private static string Pki(string data, string file) => Path.Combine(data, DevelopmentPki.FolderName, file);

    private static async Task<OpenSslResult> VerifyAsync(TempDirectory dir, string trusted, string certificate, string? untrusted = null) =>
        await OpenSsl.RunAsync(dir.Path, ["verify", "-CAfile", trusted, .. untrusted is null ? Array.Empty<string>() : ["-untrusted", untrusted], certificate]);

    [Fact]
    public async Task A_root_rollover_made_by_the_CA_has_link_certificates_that_verify_and_is_served_by_genm_and_caPubs()
    {
        using var dir = new TempDirectory("rollover");
        string data = NewDataDirectory(dir);
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "rollover-root", "--data", data], output) == 0, output.ToString());

        string oldRoot = Pki(data, "root-ca.pem"), newRoot = Pki(data, "root-ca-next.pem");
        string newWithOld = Pki(data, "root-new-with-old.pem"), oldWithNew = Pki(data, "root-old-with-new.pem");
        // newWithOld: the new key, certified by the old root; oldWithNew: the old key, certified by the new root.
        Assert.True((await VerifyAsync(dir, oldRoot, newWithOld)).Succeeded);
        Assert.True((await VerifyAsync(dir, newRoot, oldWithNew)).Succeeded);
        Assert.False((await VerifyAsync(dir, newRoot, newWithOld)).Succeeded);
        // A relying party that already trusts only the new root reaches the current issuing CA through oldWithNew.
        Assert.True((await VerifyAsync(dir, newRoot, Pki(data, "issuing-ca.pem"), untrusted: oldWithNew)).Succeeded);
        Assert.False((await VerifyAsync(dir, newRoot, Pki(data, "issuing-ca.pem"))).Succeeded);
        // One rollover at a time.
        Assert.Equal(1, PkiCommand.Run(["pki", "rollover-root", "--data", data], new StringWriter()));

        await using NodeProcess node = await NodeProcess.StartAsync([
            $"--Pki:RootCaUpdate:NewWithNew={newRoot}", $"--Pki:RootCaUpdate:NewWithOld={newWithOld}", $"--Pki:RootCaUpdate:OldWithNew={oldWithNew}",
            "--Cmp:Aliases:ra:IncludeNewRootInCaPubs=true"], dataDirectory: data);
        using var http = new HttpClient { BaseAddress = node.BaseAddress };

        var genm = new CmpClientSession("changeit", "ra");
        CmpResponseView genp = genm.Read(await E2e.PostCmpAsync(http, genm.BuildGeneralMessage(
            new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, new CmpCertificate(Certificate(oldRoot))))));
        var update = RootCaKeyUpdateContent.GetInstance(Assert.Single(genp.GeneralInfo, i => i.InfoType.Equals(CmpObjectIdentifiers.id_it_rootCaKeyUpdate)).InfoValue);
        Assert.Equal(E2e.DerOfPem(newRoot), update.NewWithNew.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(E2e.DerOfPem(newWithOld), update.NewWithOld.GetEncoded(Asn1Encodable.Der));
        Assert.Equal(E2e.DerOfPem(oldWithNew), update.OldWithNew.GetEncoded(Asn1Encodable.Der));

        var enroll = new CmpClientSession("changeit", "ra");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CmpResponseView ip = enroll.Read(await E2e.PostCmpAsync(http, enroll.BuildEnrollment(true, new X509Name("CN=rollover-device,O=Example"), key, implicitConfirm: true)));
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.Contains(ip.CaPubs, c => c.AsSpan().SequenceEqual(E2e.DerOfPem(oldRoot)));
        Assert.Contains(ip.CaPubs, c => c.AsSpan().SequenceEqual(E2e.DerOfPem(newRoot)));
    }

    [Fact]
    public async Task After_the_switch_over_certificates_chain_to_the_new_root_and_through_newWithOld_to_the_old_one()
    {
        using var dir = new TempDirectory("rollover-complete");
        string data = NewDataDirectory(dir);
        Assert.Equal(0, PkiCommand.Run(["pki", "rollover-root", "--data", data], new StringWriter()));
        await File.WriteAllTextAsync(dir.File("old-root.pem"), await File.ReadAllTextAsync(Pki(data, "root-ca.pem")));
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "complete-rollover", "--data", data], output) == 0, output.ToString());
        Assert.Equal(1, PkiCommand.Run(["pki", "complete-rollover", "--data", data], new StringWriter())); // once

        Assert.Equal(E2e.DerOfPem(Pki(data, "root-ca-next.pem")), E2e.DerOfPem(Pki(data, "root-ca.pem")));
        Assert.Equal(E2e.DerOfPem(dir.File("old-root.pem")), E2e.DerOfPem(Pki(data, "root-ca.previous.pem")));
        await using NodeProcess node = await NodeProcess.StartAsync([
            $"--Pki:RootCaUpdate:NewWithNew={Pki(data, "root-ca-next.pem")}", $"--Pki:RootCaUpdate:NewWithOld={Pki(data, "root-new-with-old.pem")}",
            $"--Pki:RootCaUpdate:OldWithNew={Pki(data, "root-old-with-new.pem")}"], dataDirectory: data);
        byte[] device = await EnrollAsync(node, "CN=after-switch,O=Example");

        // New relying parties: issuing CA, then the new root.
        Assert.True(await PemVerifiesAsync(dir, Pki(data, "root-ca.pem"), Pki(data, "issuing-ca.pem"), device));
        // Relying parties that still hold only the old root: through newWithOld (the new root's key under the old root).
        string bridge = dir.File("bridge.pem");
        await File.WriteAllTextAsync(bridge, await File.ReadAllTextAsync(Pki(data, "issuing-ca.pem")) + await File.ReadAllTextAsync(Pki(data, "root-new-with-old.pem")));
        Assert.True(await PemVerifiesAsync(dir, dir.File("old-root.pem"), bridge, device));
        Assert.False(await PemVerifiesAsync(dir, dir.File("old-root.pem"), Pki(data, "issuing-ca.pem"), device));
    }

    [Fact]
    public async Task A_rollover_of_a_second_CA_works_on_its_own_folder_and_prints_its_own_settings()
    {
        using var dir = new TempDirectory("rollover-tls");
        string data = dir.File("data");
        var options = new PkiOptions();
        options.Cas["tls"] = new CaDefinitionOptions { RootSubject = "CN=TLS Root CA,O=Example", IssuingSubject = "CN=TLS Issuing CA,O=Example" };
        DevelopmentPki.LoadOrCreate(options, data, NullLogger.Instance);
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "rollover-root", "--data", data, "--ca", "tls"], output) == 0, output.ToString());

        Assert.Contains("Pki__Cas__tls__RootCaUpdate__NewWithNew=", output.ToString());
        string folder = Path.Combine(data, DevelopmentPki.FolderName + "-tls");
        Assert.True((await VerifyAsync(dir, Path.Combine(folder, "root-ca.pem"), Path.Combine(folder, "root-new-with-old.pem"))).Succeeded);
        Assert.True(Certificate(Path.Combine(folder, "root-ca-next.pem")).Subject.Equivalent(new X509Name("CN=TLS Root CA,O=Example"), inOrder: false));
        Assert.False(File.Exists(Pki(data, "root-ca-next.pem"))); // the default CA's folder is untouched
    }

    [Fact]
    public async Task A_renewed_issuing_CA_certificate_keeps_earlier_certificates_verifying_and_issues_from_the_next_start()
    {
        using var dir = new TempDirectory("renew-ca");
        string data = NewDataDirectory(dir);
        string root = Pki(data, "root-ca.pem");
        await File.WriteAllTextAsync(dir.File("issuing-before.pem"), await File.ReadAllTextAsync(Pki(data, "issuing-ca.pem")));
        byte[] before;
        await using (NodeProcess node = await NodeProcess.StartAsync(dataDirectory: data))
        {
            before = await EnrollAsync(node, "CN=before-renewal,O=Example");
        }

        Assert.Equal(0, PkiCommand.Run(["pki", "renew-ca", "--data", data], new StringWriter()));

        var previous = Certificate(dir.File("issuing-before.pem"));
        var renewed = Certificate(Pki(data, "issuing-ca.pem"));
        Assert.NotEqual(previous.SerialNumber, renewed.SerialNumber);
        Assert.Equal(previous.SubjectPublicKeyInfo, renewed.SubjectPublicKeyInfo);
        Assert.True(renewed.StartDate.ToDateTime() > previous.StartDate.ToDateTime());
        // The certificate issued before the renewal verifies under the renewed CA certificate (same key, same name).
        Assert.True(await PemVerifiesAsync(dir, root, Pki(data, "issuing-ca.pem"), before));

        await using (NodeProcess node = await NodeProcess.StartAsync(dataDirectory: data))
        {
            byte[] after = await EnrollAsync(node, "CN=after-renewal,O=Example");
            Assert.True(await PemVerifiesAsync(dir, root, Pki(data, "issuing-ca.pem"), after));
            Assert.Equal(renewed.Subject, X509CertificateStructure.GetInstance(after).Issuer);
        }
    }

    [Fact]
    public async Task A_renewal_with_a_new_key_issues_under_it_while_each_key_signs_the_crl_and_ocsp_answers_of_its_own_certificates()
    {
        using var dir = new TempDirectory("renew-ca-new-key");
        string data = NewDataDirectory(dir);
        string root = Pki(data, "root-ca.pem");
        await using NodeProcess node = await NodeProcess.StartAsync([$"--Admin:Tokens:0={AdminToken}"], dataDirectory: data);
        string revokedBefore = await EnrollOpenSslAsync(node, dir, "device-a");
        string liveBefore = await EnrollOpenSslAsync(node, dir, "device-a2");
        await node.StopAsync();

        var output = new StringWriter();
        Assert.True(PkiCommand.Run(["pki", "renew-ca", "--new-key", "--data", data], output) == 0, output.ToString());
        string retired = Pki(data, "issuing-ca.retired-k0.pem");
        Assert.Contains("/crl/issuing.k1.crl", output.ToString());
        await node.StartAsync();
        string revokedAfter = await EnrollOpenSslAsync(node, dir, "device-b");
        string liveAfter = await EnrollOpenSslAsync(node, dir, "device-b2");

        // The old key signed A, the new key B: each certificate names its signer's key and verifies under its own CA certificate only.
        Assert.Equal(SubjectKeyId(retired), AuthorityKeyId(revokedBefore));
        Assert.Equal(SubjectKeyId(Pki(data, "issuing-ca.pem")), AuthorityKeyId(revokedAfter));
        Assert.NotEqual(SubjectKeyId(retired), SubjectKeyId(Pki(data, "issuing-ca.pem")));
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", retired, revokedBefore), node);
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", Pki(data, "ca-chain.pem"), revokedAfter), node);
        E2e.Failed(await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", Pki(data, "issuing-ca.pem"), revokedBefore), node);
        Assert.Equal("/crl/issuing.crl", CrlPath(revokedBefore));
        Assert.Equal("/crl/issuing.k1.crl", CrlPath(revokedAfter));
        // A device whose certificate the old key signed renews it (kur signed with that certificate) under the new key.
        string newKey = await OpenSsl.GenerateP256KeyAsync(dir.Path, "device-a2-new.key.pem");
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "kur", "-server", node.Server, "-path", ".well-known/cmp/p/client",
            "-cert", liveBefore, "-key", dir.File("device-a2.key.pem"), "-newkey", newKey, "-certout", "device-a2-renewed.pem", "-trusted", root), node);
        Assert.Equal(SubjectKeyId(Pki(data, "issuing-ca.pem")), AuthorityKeyId(dir.File("device-a2-renewed.pem")));

        using HttpClient admin = Admin.Admin.Client(node, AdminToken, TimeSpan.FromSeconds(60));
        JsonNode ca = (await Admin.Admin.JsonAsync(admin, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray().Single(c => (string?)c!["name"] == "issuing")!;
        JsonNode retiredKey = Assert.Single(ca["retiredKeys"]!.AsArray())!;
        Assert.Equal(0, (int)retiredKey["generation"]!);
        Assert.Equal(SubjectKeyId(retired), (string?)retiredKey["subjectKeyIdentifier"]);
        Assert.Equal("/crl/issuing.crl", (string?)retiredKey["crl"]);
        foreach (string certificate in new[] { revokedBefore, revokedAfter })
        {
            await Admin.Admin.JsonAsync(admin, HttpMethod.Post, $"/api/v1/certificates/issuing/{E2e.SerialHex(E2e.LoadCertificate(certificate))}/revoke",
                new JsonObject { ["reason"] = "keyCompromise" }, 200);
        }
        JsonNode issued = await Admin.Admin.JsonAsync(admin, HttpMethod.Post, "/api/v1/cas/issuing/crl", null, 200);
        Assert.Equal("/crl/issuing.k1.crl", (string?)issued["url"]);

        // Each distribution point serves a CRL signed by the key that signed the certificate (RFC 5280 §6.3.3).
        using HttpClient http = node.CreateHttpClient();
        string oldCrl = await CrlPemAsync(http, dir, CrlPath(revokedBefore));
        string newCrl = await CrlPemAsync(http, dir, CrlPath(revokedAfter));
        foreach ((string certificate, string issuing, string crl, bool revoked) in new[]
        {
            (revokedBefore, retired, oldCrl, true), (liveBefore, retired, oldCrl, false),
            (revokedAfter, Pki(data, "issuing-ca.pem"), newCrl, true), (liveAfter, Pki(data, "issuing-ca.pem"), newCrl, false),
        })
        {
            OpenSslResult checkedCrl = await OpenSsl.RunAsync(dir.Path, "verify", "-crl_check", "-CAfile", root, "-untrusted", issuing, "-CRLfile", crl, certificate);
            if (revoked)
            {
                E2e.Failed(checkedCrl, node);
                E2e.OutputContains(checkedCrl, "certificate revoked", node);
            }
            else
            {
                E2e.Succeeded(checkedCrl, node);
                E2e.OutputContains(checkedCrl, $"{certificate}: OK", node);
            }
        }
        // The other key's CRL is not this certificate's: OpenSSL finds no CRL of its issuer key.
        E2e.Failed(await OpenSsl.RunAsync(dir.Path, "verify", "-crl_check", "-CAfile", root, "-untrusted", retired, "-CRLfile", newCrl, liveBefore), node);

        // OCSP: the CertID of the retired key is answered with a response signed by that key; the current key's by the delegated signer.
        foreach ((string issuing, string trusted, string revoked, string live) in new[]
        {
            (retired, root, revokedBefore, liveBefore), (Pki(data, "issuing-ca.pem"), Pki(data, "ca-chain.pem"), revokedAfter, liveAfter),
        })
        {
            OpenSslResult ocsp = await OpenSsl.RunAsync(dir.Path, "ocsp", "-issuer", issuing, "-cert", revoked, "-cert", live,
                "-url", $"http://127.0.0.1:{node.HttpPort}/ocsp", "-CAfile", trusted);
            E2e.Succeeded(ocsp, node);
            E2e.OutputContains(ocsp, "Response verify OK", node);
            E2e.OutputContains(ocsp, revoked + ": revoked", node);
            E2e.OutputContains(ocsp, live + ": good", node);
        }
        // A certificate of one key asked about under the other key's CertID is not that certificate.
        OpenSslResult crossed = await OpenSsl.RunAsync(dir.Path, "ocsp", "-issuer", Pki(data, "issuing-ca.pem"), "-cert", liveBefore,
            "-url", $"http://127.0.0.1:{node.HttpPort}/ocsp", "-CAfile", Pki(data, "ca-chain.pem"));
        E2e.OutputContains(crossed, liveBefore + ": unknown", node);
    }

    [Fact]
    public async Task Two_renewals_with_a_new_key_keep_both_retired_generations_and_a_staged_renewal_is_finished_by_the_next_run()
    {
        using var dir = new TempDirectory("renew-ca-twice");
        string data = NewDataDirectory(dir);
        var output = new StringWriter();

        Assert.True(PkiCommand.Run(["pki", "renew-ca", "--new-key", "--data", data], output) == 0, output.ToString());
        string first = SubjectKeyId(Pki(data, "issuing-ca.pem"));
        Assert.True(PkiCommand.Run(["pki", "renew-ca", "--new-key", "--data", data], output) == 0, output.ToString());
        Assert.Contains("/crl/issuing.k2.crl", output.ToString());

        Assert.Equal(first, SubjectKeyId(Pki(data, "issuing-ca.retired-k1.pem")));
        CertificateAuthorityKeys keys = DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance).Default;
        Assert.Equal(2, keys.KeyGeneration);
        Assert.Equal([0, 1], keys.Retired.Select(r => r.Generation));
        Assert.Same(keys.Retired[0].Ca, keys.FirstKey);
        foreach (string certificate in new[] { "issuing-ca.pem", "issuing-ca.retired-k0.pem", "issuing-ca.retired-k1.pem", "cmp-signer.pem" })
        {
            Assert.True((await VerifyAsync(dir, Pki(data, "root-ca.pem"), Pki(data, certificate), untrusted: Pki(data, "issuing-ca.pem"))).Succeeded, certificate);
        }
        Assert.Equal(2, PkiCommand.Run(["pki", "rollover-root", "--new-key", "--data", data], new StringWriter()));

        // A run that stopped while renaming (the staging folder marked complete, the retired key moved) is finished, not repeated.
        string staging = Pki(data, ".issuing-rekey.tmp");
        Directory.CreateDirectory(staging);
        File.Copy(Pki(data, "issuing-ca.key.pem"), Path.Combine(staging, "issuing-ca.retired-k2.key.pem"));
        File.Copy(Pki(data, "issuing-ca.pem"), Path.Combine(staging, "issuing-ca.retired-k2.pem"));
        File.Move(Path.Combine(staging, "issuing-ca.retired-k2.key.pem"), Pki(data, "issuing-ca.retired-k2.key.pem"));
        await File.WriteAllTextAsync(Path.Combine(staging, "ready"), "");
        var resumed = new StringWriter();
        Assert.True(PkiCommand.Run(["pki", "renew-ca", "--new-key", "--data", data], resumed) == 0, resumed.ToString());
        Assert.Contains("completed the interrupted renewal", resumed.ToString());
        Assert.False(Directory.Exists(staging));
        Assert.Equal(3, DevelopmentPki.LoadOrCreate(new PkiOptions(), data, NullLogger.Instance).Default.KeyGeneration);
    }

    [Fact]
    public void A_retired_key_whose_certificate_has_ended_is_left_out_with_a_log_line_and_still_gives_the_silo_secret()
    {
        using var dir = new TempDirectory("renew-ca-ended");
        string data = NewDataDirectory(dir);
        Assert.Equal(0, PkiCommand.Run(["pki", "renew-ca", "--new-key", "--data", data], new StringWriter()));
        // The retired key's certificate, reissued by the root as one that ended a minute ago.
        using var rootKey = ECDsa.Create();
        rootKey.ImportFromEncryptedPem(File.ReadAllText(Pki(data, "root-ca.key.pem")), PkiOptions.DevelopmentPassphrase);
        using X509Certificate2 root = X509Certificate2.CreateFromPem(File.ReadAllText(Pki(data, "root-ca.pem"))).CopyWithPrivateKey(rootKey);
        using var retiredKey = ECDsa.Create();
        retiredKey.ImportFromEncryptedPem(File.ReadAllText(Pki(data, "issuing-ca.retired-k0.key.pem")), PkiOptions.DevelopmentPassphrase);
        using X509Certificate2 retired = E2e.LoadCertificate(Pki(data, "issuing-ca.retired-k0.pem"));
        var request = new CertificateRequest(retired.SubjectName, retiredKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using X509Certificate2 ended = request.Create(root, root.NotBefore, DateTimeOffset.UtcNow.AddMinutes(-1), [0x01, 0x02]);
        File.WriteAllText(Pki(data, "issuing-ca.retired-k0.pem"), ended.ExportCertificatePem() + "\n");
        var logger = new RecordingLogger();

        CertificateAuthorityKeys keys = DevelopmentPki.LoadOrCreate(new PkiOptions(), data, logger).Default;

        Assert.Equal(1, keys.KeyGeneration);
        Assert.Empty(keys.Retired);
        Assert.Null(keys.KeyOf(0));
        Assert.Equal(ended.RawData, keys.FirstKey.CertificateDer);
        Assert.Contains(logger.Lines, line => line.Contains("retired key of generation 0 ended", StringComparison.Ordinal));
    }

    /// <summary>The lines a load logs, as formatted.</summary>
    private sealed class RecordingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => Lines.Add(formatter(state, exception));
    }

    private const string AdminToken = "lifecycle-admin-token";

    /// <summary>Enrolls with <c>openssl cmp</c> (ir through the RA alias) and returns the certificate's path.</summary>
    private static async Task<string> EnrollOpenSslAsync(NodeProcess node, TempDirectory dir, string name)
    {
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path, name + ".key.pem");
        E2e.Succeeded(await new CmpEnrollment { Subject = $"/CN={name}/O=Example", KeyFile = key, CertOut = name + ".pem" }.RunAsync(node, dir.Path), node);
        return dir.File(name + ".pem");
    }

    private static string SubjectKeyId(string pemPath)
    {
        using X509Certificate2 certificate = E2e.LoadCertificate(pemPath);
        return certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!;
    }

    private static string AuthorityKeyId(string pemPath)
    {
        using X509Certificate2 certificate = E2e.LoadCertificate(pemPath);
        return Convert.ToHexString(certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier!.Value.Span);
    }

    /// <summary>The path of the certificate's CRL distribution point (RFC 5280 §4.2.1.13); its host is Pki:PublicBaseUrl's.</summary>
    private static string CrlPath(string pemPath)
    {
        Org.BouncyCastle.Asn1.X509.X509Extension extension = Certificate(pemPath).TbsCertificate.Extensions.GetExtension(X509Extensions.CrlDistributionPoints);
        DistributionPoint point = Assert.Single(CrlDistPoint.GetInstance(extension.GetParsedValue()).GetDistributionPoints());
        return new Uri(GeneralNames.GetInstance(point.DistributionPointName.Name).GetNames().Single().Name.ToString()!).AbsolutePath;
    }

    private static async Task<string> CrlPemAsync(HttpClient http, TempDirectory dir, string path)
    {
        byte[] der = await http.GetByteArrayAsync(path.TrimStart('/'));
        string file = dir.File(Path.GetFileName(path) + ".pem");
        await File.WriteAllTextAsync(file, PemEncoding.WriteString("X509 CRL", der) + "\n");
        return file;
    }

    private static async Task<bool> PemVerifiesAsync(TempDirectory dir, string root, string issuing, byte[] certificate)
    {
        string path = dir.File($"cert-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, PemEncoding.WriteString("CERTIFICATE", certificate) + "\n");
        OpenSslResult result = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", issuing, path);
        return result.Succeeded;
    }

    private static async Task<byte[]> EnrollAsync(NodeProcess node, string subject)
    {
        using var http = new HttpClient { BaseAddress = node.BaseAddress };
        var session = new CmpClientSession("changeit", "ra");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CmpResponseView ip = session.Read(await E2e.PostCmpAsync(http, session.BuildEnrollment(true, new X509Name(subject), key, implicitConfirm: true)));
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        return ip.CertificateDer!;
    }

    private static X509CertificateStructure Certificate(string pemPath) => X509CertificateStructure.GetInstance(E2e.DerOfPem(pemPath));
}
