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
