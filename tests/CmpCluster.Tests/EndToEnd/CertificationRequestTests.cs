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
