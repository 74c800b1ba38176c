using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>
/// One node with the admin token, a KeyID alias (the senderKID names the CA, EJBCA's CMP documentation: "KeyID") and the
/// node's RA secret for CAs without their own: a CA created or imported through the admin API is reached through it.
/// </summary>
public sealed class CaAdminNodeFixture : IAsyncLifetime
{
    public const string Token = "ca-admin-token";
    public const string RaSecret = "ca-admin-ra-secret";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node is not started");

    public HttpClient Client(string? token = Token) => Admin.Client(Node, token, TimeSpan.FromSeconds(60));

    public string Folder(string ca) => Path.Combine(Node.DataDirectory, "pki-" + ca);

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(
        [$"--Admin:Tokens:0={Token}", "--Cmp:Aliases:bykeyid:Ca=KeyID", $"--Pki:CmpRaSecret={RaSecret}"]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary>
/// POST /api/v1/cas (create) and POST /api/v1/cas/import: the CA is served at once, by the real <c>openssl cmp</c> client
/// through the KeyID alias, its certificates verify under its own root only, it is still served after a restart, and
/// every refused request leaves nothing behind.
/// </summary>
public sealed class CaAdminApiTests(CaAdminNodeFixture fixture) : IClassFixture<CaAdminNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task A_created_ca_issues_through_the_keyid_alias_and_its_certificates_verify_under_its_own_root_only()
    {
        using HttpClient client = fixture.Client();
        (HttpResponseMessage response, string text) = await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/cas", new JsonObject
        {
            ["name"] = "lab",
            ["keyAlgorithm"] = "EcP384",
            ["issuingSubject"] = "CN=Lab Issuing CA,O=Example Lab",
            ["rootSubject"] = "CN=Lab Root CA,O=Example Lab",
        });

        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        Assert.Equal("/api/v1/cas/lab", response.Headers.Location?.OriginalString);
        JsonNode created = JsonNode.Parse(text)!;
        Assert.Equal("lab", (string?)created["name"]);
        Assert.Equal("CN=Lab Issuing CA, O=Example Lab", (string?)created["subjectDn"]);
        Assert.True((bool)created["enabled"]!);
        Assert.Equal("created", (string?)created["origin"]);
        Assert.True(File.Exists(Path.Combine(fixture.Folder("lab"), "ca.json")));
        Assert.True(File.Exists(Path.Combine(fixture.Folder("lab"), "root-ca.key.pem")));
        JsonArray cas = (await Admin.JsonAsync(client, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray();
        Assert.Contains(cas, c => (string?)c!["name"] == "lab");
        Assert.Equal("settings", (string?)cas.Single(c => (string?)c!["name"] == "issuing")!["origin"]);

        using var dir = new TempDirectory("ca-admin-created");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await AssertEnrollsUnderAsync(dir, "lab", fixture.Folder("lab"), "lab.pem");
        using X509Certificate2 issued = E2e.LoadCertificate(dir.File("lab.pem"));
        Assert.Equal("CN=Lab Issuing CA, O=Example Lab", issued.Issuer);
        Assert.Contains("/crl/lab.crl", issued.Extensions["2.5.29.31"]!.Format(false));

        string audit = await client.GetStringAsync("/api/v1/audit?limit=1000");
        Assert.Contains(audit.Split('\n'), line => line.Contains("\"AdminAction\"") && line.Contains("\"lab\"") && line.Contains("create CA"));
        Assert.Contains(audit.Split('\n'), line => line.Contains("\"KeyLoaded\"") && line.Contains("\"lab\""));
    }

    [Fact]
    public async Task A_ca_created_under_the_default_cas_root_verifies_under_that_root()
    {
        using HttpClient client = fixture.Client();
        await CreatedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "branch", ["issuedBy"] = "issuing" });

        Assert.False(File.Exists(Path.Combine(fixture.Folder("branch"), "root-ca.key.pem"))); // the root's key stays in its own CA's folder
        Assert.Equal(await File.ReadAllTextAsync(Node.RootCaPath), await File.ReadAllTextAsync(Path.Combine(fixture.Folder("branch"), "root-ca.pem")));
        using var dir = new TempDirectory("ca-admin-branch");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await AssertEnrollsUnderAsync(dir, "branch", fixture.Folder("branch"), "branch.pem", otherRoot: null);
        OpenSslResult underDefaultRoot = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", Node.RootCaPath,
            "-untrusted", Path.Combine(fixture.Folder("branch"), "issuing-ca.pem"), "branch.pem");
        E2e.Succeeded(underDefaultRoot, Node);
        OpenSslResult withoutItsIssuingCa = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", Node.RootCaPath, "-untrusted", Node.IssuingCaPath, "branch.pem");
        E2e.Failed(withoutItsIssuingCa, Node);
    }

    [Fact]
    public async Task A_ca_from_an_openssl_ceremony_is_imported_with_its_key_in_the_request_or_in_a_file_and_issues()
    {
        using var dir = new TempDirectory("ca-admin-import");
        Ceremony ceremony = await Ceremony.RunAsync(dir, "cer");
        using HttpClient client = fixture.Client();

        JsonNode imported = await CreatedAsync(client, "/api/v1/cas/import", new JsonObject
        {
            ["name"] = "ceremony",
            ["certificateChain"] = ceremony.ChainPem,
            ["keyPem"] = await File.ReadAllTextAsync(ceremony.EncryptedKey),
            ["keyPassphrase"] = Ceremony.Passphrase,
        });
        Ceremony other = await Ceremony.RunAsync(dir, "file");
        JsonNode fromFile = await CreatedAsync(client, "/api/v1/cas/import", new JsonObject
        {
            ["name"] = "ceremony-file",
            ["certificateChain"] = other.ChainPem,
            ["keyFile"] = other.EncryptedKey,
            ["keyPassphrase"] = Ceremony.Passphrase,
        });

        Assert.Equal("imported", (string?)imported["origin"]);
        using (X509Certificate2 ceremonyCa = E2e.LoadCertificate(ceremony.Ca))
        using (X509Certificate2 otherCa = E2e.LoadCertificate(other.Ca))
        {
            Assert.Equal(ceremonyCa.SubjectName.Name, (string?)imported["subjectDn"]);
            Assert.Equal(otherCa.SubjectName.Name, (string?)fromFile["subjectDn"]);
        }
        Assert.False(File.Exists(Path.Combine(fixture.Folder("ceremony"), "root-ca.key.pem")));
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await AssertEnrollsUnderAsync(dir, "ceremony", fixture.Folder("ceremony"), "imported.pem", otherRoot: other.Root);
        await AssertEnrollsUnderAsync(dir, "ceremony-file", fixture.Folder("ceremony-file"), "imported-file.pem", otherRoot: ceremony.Root);
        // The root the ceremony made, not a copy the node made, is the trust anchor.
        OpenSslResult underCeremonyRoot = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", ceremony.Root, "-untrusted", ceremony.Ca, "imported.pem");
        E2e.Succeeded(underCeremonyRoot, Node);
    }

    [Fact]
    public async Task A_recorded_ca_is_renewed_by_the_pki_command_with_the_same_key_then_a_new_one_and_served_again_after_each_restart()
    {
        using HttpClient client = fixture.Client();
        await CreatedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "durable" });

        string issuing = Path.Combine(fixture.Folder("durable"), "issuing-ca.pem");
        string before = await File.ReadAllTextAsync(issuing);

        await Node.StopAsync();
        // The lifecycle command finds the CA by its recorded definition (silo/PkiCommand.cs): a renewed certificate, same key.
        var output = new StringWriter();
        Assert.True(CmpCluster.Silo.PkiCommand.Run(["pki", "renew-ca", "--ca", "durable", "--data", Node.DataDirectory], output) == 0, output.ToString());
        await Node.StartAsync();

        using HttpClient after = fixture.Client();
        JsonArray cas = (await Admin.JsonAsync(after, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray();
        Assert.Equal("created", (string?)cas.Single(c => (string?)c!["name"] == "durable")!["origin"]);
        using var dir = new TempDirectory("ca-admin-durable");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await AssertEnrollsUnderAsync(dir, "durable", fixture.Folder("durable"), "durable.pem");
        Assert.NotEqual(before, await File.ReadAllTextAsync(issuing));
        using (X509Certificate2 renewed = E2e.LoadCertificate(issuing))
        using (X509Certificate2 issued = E2e.LoadCertificate(dir.File("durable.pem")))
        {
            Assert.Equal(renewed.SubjectName.RawData, issued.IssuerName.RawData);
        }

        // Then with a new key: the recorded CA issues under it after a restart, and lists the retired key until it ends.
        await Node.StopAsync();
        var rekeyed = new StringWriter();
        Assert.True(CmpCluster.Silo.PkiCommand.Run(["pki", "renew-ca", "--new-key", "--ca", "durable", "--data", Node.DataDirectory], rekeyed) == 0, rekeyed.ToString());
        await Node.StartAsync();
        using HttpClient restarted = fixture.Client();
        JsonNode durable = (await Admin.JsonAsync(restarted, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray().Single(c => (string?)c!["name"] == "durable")!;
        JsonNode retired = Assert.Single(durable["retiredKeys"]!.AsArray())!;
        Assert.Equal("/crl/durable.crl", (string?)retired["crl"]);
        using (X509Certificate2 previous = E2e.LoadCertificate(Path.Combine(fixture.Folder("durable"), "issuing-ca.retired-k0.pem")))
        {
            Assert.Equal(previous.NotAfter.ToUniversalTime(), ((DateTimeOffset)retired["notAfter"]!).UtcDateTime, TimeSpan.FromSeconds(1));
        }
        await AssertEnrollsUnderAsync(dir, "durable", fixture.Folder("durable"), "durable-new-key.pem");
        E2e.Failed(await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", Path.Combine(fixture.Folder("durable"), "root-ca.pem"), "-untrusted", issuing, "durable.pem"), Node);
        Assert.Equal(2, CmpCluster.Silo.PkiCommand.Run(["pki", "renew-ca", "--new-key", "--bogus", "--data", Node.DataDirectory], new StringWriter()));
    }

    [Fact]
    public async Task An_alias_added_at_the_next_start_names_a_ca_made_through_the_api()
    {
        using var root = new TempDirectory("ca-admin-alias");
        string data = Path.Combine(root.Path, "data");
        string token = $"--Admin:Tokens:0={CaAdminNodeFixture.Token}";
        await using (NodeProcess before = await NodeProcess.StartAsync([token], data))
        {
            using HttpClient client = Admin.Client(before, CaAdminNodeFixture.Token, TimeSpan.FromSeconds(60));
            (HttpResponseMessage response, string text) = await Admin.SendAsync(client, HttpMethod.Post, "/api/v1/cas", new JsonObject { ["name"] = "named" });
            Assert.True(response.StatusCode == HttpStatusCode.Created, text + before.OutputTail());
        }

        await using NodeProcess after = await NodeProcess.StartAsync([token, "--Cmp:Aliases:named:Ca=named", "--Cmp:Aliases:named:Secret=named-secret"], data);

        using var dir = new TempDirectory("ca-admin-alias-enroll");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        string folder = Path.Combine(data, "pki-named");
        OpenSslResult enrolled = await new CmpEnrollment
        {
            Path = "cmp/named", Reference = "named", Secret = "named-secret", Trusted = Path.Combine(folder, "root-ca.pem"), CertOut = "named.pem",
        }.RunAsync(after, dir.Path);
        E2e.Succeeded(enrolled, after);
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", Path.Combine(folder, "root-ca.pem"),
            "-untrusted", Path.Combine(folder, "issuing-ca.pem"), "named.pem"), after);
    }

    [Fact]
    public async Task Two_creations_of_one_name_at_once_make_one_ca()
    {
        using HttpClient client = fixture.Client();
        var body = new JsonObject { ["name"] = "race" };

        (HttpResponseMessage Response, string Text)[] answers = await Task.WhenAll(
            Admin.SendAsync(client, HttpMethod.Post, "/api/v1/cas", body.DeepClone()), Admin.SendAsync(client, HttpMethod.Post, "/api/v1/cas", body.DeepClone()));

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], answers.Select(a => a.Response.StatusCode).Order());
        JsonNode created = JsonNode.Parse(answers.Single(a => a.Response.StatusCode == HttpStatusCode.Created).Text)!;
        using X509Certificate2 issuing = E2e.LoadCertificate(Path.Combine(fixture.Folder("race"), "issuing-ca.pem"));
        Assert.Equal(issuing.SubjectName.Name, (string?)created["subjectDn"]);
        Assert.Empty(Directory.GetDirectories(Node.DataDirectory, ".pki-*"));
        using var dir = new TempDirectory("ca-admin-race");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        await AssertEnrollsUnderAsync(dir, "race", fixture.Folder("race"), "race.pem");
    }

    [Fact]
    public async Task Creation_refuses_a_taken_name_a_bad_name_an_unknown_algorithm_or_parent_and_stores_nothing()
    {
        using HttpClient client = fixture.Client();
        await CreatedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "taken" });
        string takenFolder = await File.ReadAllTextAsync(Path.Combine(fixture.Folder("taken"), "issuing-ca.pem"));

        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "taken" }, HttpStatusCode.Conflict, "taken");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "issuing" }, HttpStatusCode.Conflict, "issuing");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "TAKEN" }, HttpStatusCode.Conflict, "TAKEN");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "bad name!" }, HttpStatusCode.BadRequest, "bad name!", "name");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "KeyID" }, HttpStatusCode.BadRequest, "KeyID", "name");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "ed", ["keyAlgorithm"] = "Ed25519" }, HttpStatusCode.BadRequest, "ed", "keyAlgorithm");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "orphan", ["issuedBy"] = "nowhere" }, HttpStatusCode.BadRequest, "orphan", "issuedBy");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "twin", ["issuingSubject"] = "CN=CmpCluster Issuing CA,O=CmpCluster" },
            HttpStatusCode.Conflict, "twin");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "rootclash", ["rootSubject"] = "CN=CmpCluster Root CA,O=CmpCluster" },
            HttpStatusCode.Conflict, "rootclash");
        await AssertRefusedAsync(client, "/api/v1/cas", new JsonObject { ["name"] = "baddn", ["rootSubject"] = "not a DN" }, HttpStatusCode.BadRequest, "baddn", "rootSubject");
        // The CA that held the name is untouched.
        Assert.Equal(takenFolder, await File.ReadAllTextAsync(Path.Combine(fixture.Folder("taken"), "issuing-ca.pem")));
    }

    [Fact]
    public async Task Import_refuses_a_foreign_key_a_broken_chain_a_non_ca_a_bad_algorithm_or_passphrase_and_stores_nothing()
    {
        using var dir = new TempDirectory("ca-admin-bad-import");
        Ceremony good = await Ceremony.RunAsync(dir, "good");
        Ceremony other = await Ceremony.RunAsync(dir, "other");
        Ceremony endEntity = await Ceremony.RunAsync(dir, "leaf", caExtensions: "v3_ee");
        Ceremony p521 = await Ceremony.RunAsync(dir, "p521", caCurve: "P-521");
        string goodKey = await File.ReadAllTextAsync(good.EncryptedKey);
        using HttpClient client = fixture.Client();

        JsonObject Import(string name, string chain, string? key = null, string passphrase = Ceremony.Passphrase) => new()
        {
            ["name"] = name, ["certificateChain"] = chain, ["keyPem"] = key ?? goodKey, ["keyPassphrase"] = passphrase,
        };
        const string path = "/api/v1/cas/import";
        // The chain of one CA with the key of another.
        await AssertRefusedAsync(client, path, Import("foreign-key", other.ChainPem), HttpStatusCode.BadRequest, "foreign-key", "key");
        // The CA certificate with a root that did not issue it.
        await AssertRefusedAsync(client, path, Import("broken", good.CaPem + other.RootPem), HttpStatusCode.BadRequest, "broken", "certificateChain");
        // Only the CA certificate, no root.
        await AssertRefusedAsync(client, path, Import("rootless", good.CaPem), HttpStatusCode.BadRequest, "rootless", "certificateChain");
        // An end-entity certificate (basicConstraints cA false) in the CA's place.
        await AssertRefusedAsync(client, path, Import("leaf", endEntity.ChainPem, await File.ReadAllTextAsync(endEntity.EncryptedKey)),
            HttpStatusCode.BadRequest, "leaf", "certificateChain");
        // A P-521 key: not an algorithm the CA signs with.
        await AssertRefusedAsync(client, path, Import("p521", p521.ChainPem, await File.ReadAllTextAsync(p521.EncryptedKey)),
            HttpStatusCode.BadRequest, "p521", "key");
        await AssertRefusedAsync(client, path, Import("wrong-pass", good.ChainPem, passphrase: "not-the-passphrase"), HttpStatusCode.BadRequest, "wrong-pass", "keyPassphrase");
        await AssertRefusedAsync(client, path, Import("plain-key", good.ChainPem, await File.ReadAllTextAsync(good.PlainKey)), HttpStatusCode.BadRequest, "plain-key", "keyPem");
        await AssertRefusedAsync(client, path, Import("not-pem", "garbage"), HttpStatusCode.BadRequest, "not-pem", "certificateChain");
        await AssertRefusedAsync(client, path, new JsonObject { ["name"] = "token", ["certificateChain"] = good.ChainPem, ["pkcs11Token"] = "hsm", ["pkcs11KeyLabel"] = "ca" },
            HttpStatusCode.BadRequest, "token", "pkcs11Token");
        await AssertRefusedAsync(client, path, Import("issuing", good.ChainPem), HttpStatusCode.Conflict, "issuing");
        // Without the admin token nothing is looked at.
        using HttpClient anonymous = fixture.Client(token: null);
        await AssertRefusedAsync(anonymous, path, Import("anonymous", good.ChainPem), HttpStatusCode.Unauthorized, "anonymous");
        await AssertRefusedAsync(anonymous, "/api/v1/cas", new JsonObject { ["name"] = "anonymous" }, HttpStatusCode.Unauthorized, "anonymous");
    }

    /// <summary>POSTs <paramref name="body"/> and expects 201 Created; otherwise fails with the node's log.</summary>
    private async Task<JsonNode> CreatedAsync(HttpClient client, string path, JsonObject body)
    {
        (HttpResponseMessage response, string text) = await Admin.SendAsync(client, HttpMethod.Post, path, body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)response.StatusCode} {text}\n{Node.OutputTail()}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>The request is refused with <paramref name="status"/> (naming <paramref name="field"/>), and no trace of CA
    /// <paramref name="name"/> is left: no folder, no staging folder, not in the CA list.</summary>
    private async Task AssertRefusedAsync(HttpClient client, string path, JsonObject body, HttpStatusCode status, string name, string? field = null)
    {
        bool existed = Directory.Exists(fixture.Folder(name)) || name == "issuing";
        (HttpResponseMessage response, string text) = await Admin.SendAsync(client, HttpMethod.Post, path, body);
        Assert.True(response.StatusCode == status, $"{name}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        if (field is not null)
        {
            Assert.NotNull(JsonNode.Parse(text)!["errors"]![field]);
        }
        Assert.Empty(Directory.GetDirectories(Node.DataDirectory, ".pki-*"));
        if (!existed)
        {
            Assert.False(Directory.Exists(fixture.Folder(name)), $"{name}: a folder was left");
            JsonArray cas = (await Admin.JsonAsync(fixture.Client(), HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray();
            Assert.DoesNotContain(cas, c => (string?)c!["name"] == name);
        }
    }

    /// <summary>
    /// <c>openssl cmp</c> through the KeyID alias with <paramref name="ca"/> as senderKID, trusting only that CA's root; the
    /// certificate verifies under that root with its issuing CA, and not under <paramref name="otherRoot"/> (default: the
    /// node's default root).
    /// </summary>
    private async Task AssertEnrollsUnderAsync(TempDirectory dir, string ca, string folder, string certOut, string? otherRoot = "")
    {
        string root = Path.Combine(folder, "root-ca.pem");
        string issuing = Path.Combine(folder, "issuing-ca.pem");
        OpenSslResult enrolled = await new CmpEnrollment
        {
            Path = "cmp/bykeyid", Reference = ca, Secret = CaAdminNodeFixture.RaSecret, Trusted = root,
            Subject = $"/CN={certOut}/O=Example", CertOut = certOut,
        }.RunAsync(Node, dir.Path);
        E2e.Succeeded(enrolled, Node);
        OpenSslResult own = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", root, "-untrusted", issuing, certOut);
        E2e.Succeeded(own, Node);
        E2e.OutputContains(own, $"{certOut}: OK", Node);
        if (otherRoot is not null)
        {
            OpenSslResult foreign = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", otherRoot == "" ? Node.RootCaPath : otherRoot, "-untrusted", issuing, certOut);
            E2e.Failed(foreign, Node);
        }
        using X509Certificate2 issued = E2e.LoadCertificate(dir.File(certOut));
        using X509Certificate2 issuer = E2e.LoadCertificate(issuing);
        Assert.Equal(issuer.SubjectName.RawData, issued.IssuerName.RawData);
    }
}

/// <summary>
/// An operator's key ceremony with <c>openssl</c>: a self-signed root and a CA certificate it signs (v3 with extensions:
/// without them <c>openssl x509 -req</c> makes v1 certificates), the CA key as encrypted PKCS#8.
/// </summary>
public sealed record Ceremony(string Root, string Ca, string EncryptedKey, string PlainKey)
{
    public const string Passphrase = "ceremony-passphrase";

    private const string Config = """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = unused
        [v3_root]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        [v3_ca]
        basicConstraints = critical,CA:TRUE,pathlen:0
        keyUsage = critical,keyCertSign,cRLSign,digitalSignature
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [v3_ee]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        """;

    public string RootPem => File.ReadAllText(Root);
    public string CaPem => File.ReadAllText(Ca);
    public string ChainPem => CaPem + RootPem;

    public static async Task<Ceremony> RunAsync(TempDirectory dir, string name, string caExtensions = "v3_ca", string caCurve = "P-256")
    {
        string config = dir.File("ceremony.cnf");
        await File.WriteAllTextAsync(config, Config);
        string Of(string file) => dir.File($"{name}-{file}");
        await Run(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", Of("root.key"));
        await Run(dir, "req", "-config", config, "-new", "-x509", "-key", Of("root.key"), "-subj", $"/CN={name} Root CA/O=Ceremony",
            "-days", "3650", "-extensions", "v3_root", "-out", Of("root.pem"));
        await Run(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", $"ec_paramgen_curve:{caCurve}", "-out", Of("ca.key"));
        await Run(dir, "req", "-config", config, "-new", "-key", Of("ca.key"), "-subj", $"/CN={name} Issuing CA/O=Ceremony", "-out", Of("ca.csr"));
        await Run(dir, "x509", "-req", "-in", Of("ca.csr"), "-CA", Of("root.pem"), "-CAkey", Of("root.key"), "-set_serial", "0x" + Convert.ToHexString(Guid.NewGuid().ToByteArray()[..8]),
            "-days", "1825", "-extfile", config, "-extensions", caExtensions, "-out", Of("ca.pem"));
        await Run(dir, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", Of("ca.key"), "-passout", "pass:" + Passphrase, "-out", Of("ca.enc.pem"));
        await Run(dir, "pkcs8", "-topk8", "-nocrypt", "-in", Of("ca.key"), "-out", Of("ca.plain.pem"));
        return new Ceremony(Of("root.pem"), Of("ca.pem"), Of("ca.enc.pem"), Of("ca.plain.pem"));
    }

    private static async Task Run(TempDirectory dir, params string[] arguments)
    {
        OpenSslResult result = await OpenSsl.RunAsync(dir.Path, arguments);
        Assert.True(result.Succeeded, result.ToString());
    }
}
