using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 2: <c>openssl cmp -cmd cr</c> through the short <c>/cmp/{alias}</c> path.</summary>
public sealed class CertificationRequestTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Cr_via_short_path_is_answered_with_cp_and_confirmed()
    {
        using var dir = new TempDirectory("cr");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Command = "cr",
            Path = "cmp/ra",
            Subject = "/CN=e2e-cr/O=Example",
            ResponsesOut = "cp.der,pkiconf.der",
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "sending CR", Node);
        E2e.OutputContains(result, "received CP", Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        Assert.Equal(Contracts.PkiBodyType.Cp, E2e.ReadSaved(dir.File("cp.der"), Node).BodyType);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "e2e-cr"), ("2.5.4.10", "Example")]);
    }

    /// <summary>RFC 9483 §4.1.4: a CSR made by <c>openssl req</c>, sent as p10cr; its SAN request is honoured.</summary>
    [Fact]
    public async Task P10cr_with_an_openssl_csr_is_answered_with_cp_and_confirmed()
    {
        using var dir = new TempDirectory("p10cr");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);
        OpenSslResult csr = await OpenSsl.RunAsync(dir.Path, "req", "-new", "-key", "key.pem", "-subj", "/CN=e2e-p10cr/O=Example",
            "-addext", "subjectAltName=DNS:e2e-p10cr.example.net", "-out", "csr.pem");
        Assert.True(csr.Succeeded, csr.ToString());

        OpenSslResult result = await new CmpEnrollment
        {
            Command = "p10cr",
            Subject = "/CN=e2e-p10cr/O=Example",
            ResponsesOut = "cp.der,pkiconf.der",
            Extra = ["-csr", "csr.pem"],
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received CP", Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        Assert.Equal(Contracts.PkiBodyType.Cp, E2e.ReadSaved(dir.File("cp.der"), Node).BodyType);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "e2e-p10cr"), ("2.5.4.10", "Example")]);
        OpenSslResult text = await OpenSsl.RunAsync(dir.Path, "x509", "-in", "cert.pem", "-noout", "-ext", "subjectAltName");
        Assert.Contains("DNS:e2e-p10cr.example.net", text.Output);
    }

    [Fact]
    public async Task Ir_via_short_path_works_too()
    {
        using var dir = new TempDirectory("ir-short");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment { Path = "cmp/ra", Subject = "/CN=e2e-short" }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "e2e-short")]);
    }
}

/// <summary>
/// caPubs and extraCerts per alias (EJBCA's CMP documentation, "CMP Response Additional CA Certificates" and "PKI Message
/// Response Additional CA Certificates"), as <c>openssl cmp</c> saves them with <c>-cacertsout</c> and <c>-extracertsout</c>.
/// </summary>
public sealed class AliasCertificateListTests
{
    [Fact]
    public async Task An_alias_puts_the_signing_ca_first_then_the_root_then_its_additional_certificates()
    {
        using var dir = new TempDirectory("alias-certs");
        OpenSslResult extra = await OpenSsl.RunAsync(dir.Path, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "extra.key", "-subj", "/CN=Additional Partner CA", "-days", "30", "-out", "extra.pem");
        Assert.True(extra.Succeeded, extra.ToString());
        await using NodeProcess node = await NodeProcess.StartAsync(
        [
            "--Cmp:Aliases:pubs:Secret=pubs-secret",
            "--Cmp:Aliases:pubs:ResponseProtection=Pbe",
            "--Cmp:Aliases:pubs:CaPubsSigningCaFirst=true",
            $"--Cmp:Aliases:pubs:AdditionalCaPubs:0={dir.File("extra.pem")}",
            $"--Cmp:Aliases:pubs:AdditionalExtraCerts:0={dir.File("extra.pem")}",
        ]);
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Path = ".well-known/cmp/p/pubs",
            Reference = "pubs",
            Secret = "pubs-secret",
            Subject = "/CN=e2e-pubs",
            Extra = ["-cacertsout", "capubs.pem", "-extracertsout", "extracerts.pem"],
        }.RunAsync(node, dir.Path);

        E2e.Succeeded(result, node);
        string[] caPubs = await SubjectsAsync(dir, "capubs.pem");
        string[] extraCerts = await SubjectsAsync(dir, "extracerts.pem");
        string issuing = Assert.Single(await SubjectsAsync(dir, node.IssuingCaPath));
        string root = Assert.Single(await SubjectsAsync(dir, node.RootCaPath));
        Assert.Equal([issuing, root, "CN=Additional Partner CA"], caPubs);
        Assert.Contains(issuing, extraCerts);
        Assert.Equal("CN=Additional Partner CA", extraCerts[^1]);
    }

    [Fact]
    public async Task A_file_without_a_v3_certificate_stops_the_node_naming_the_setting()
    {
        using var dir = new TempDirectory("alias-certs-bad");
        await File.WriteAllTextAsync(dir.File("empty.pem"), "no certificate here\n");

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartAsync(
            ["--Cmp:Aliases:ra:AdditionalCaPubs:0=" + dir.File("empty.pem")], timeout: TimeSpan.FromSeconds(60)));

        Assert.Contains("Cmp:Aliases:ra:AdditionalCaPubs", failure.Message.Split("--- node output ---")[1]);
    }

    /// <summary>The subject of each certificate in a PEM file, in order, as RFC 2253 text.</summary>
    private static async Task<string[]> SubjectsAsync(TempDirectory dir, string file)
    {
        string text = await File.ReadAllTextAsync(Path.IsPathRooted(file) ? file : dir.File(file));
        return System.Text.RegularExpressions.Regex.Matches(text, "-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => new Org.BouncyCastle.X509.X509Certificate(Convert.FromBase64String(m.Groups[1].Value)).SubjectDN.ToString())
            .ToArray();
    }
}
