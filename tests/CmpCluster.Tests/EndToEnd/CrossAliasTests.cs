using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Two RA aliases with different shared secrets on one node: a secret is only good at its own alias. A request
/// MAC-protected with another alias's secret is refused with badMessageCheck in an error signed by the CMP signer.
/// </summary>
public sealed class CrossAliasTests : IAsyncLifetime
{
    private const string SecretA = "secret-a-123";
    private const string SecretB = "secret-b-456";

    private NodeProcess? _node;

    private NodeProcess Node => _node ?? throw new InvalidOperationException("the node is not started");

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(
        [$"--Cmp:Aliases:ra-a:Secret={SecretA}", $"--Cmp:Aliases:ra-b:Secret={SecretB}"]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Secret_of_alias_a_is_refused_at_alias_b_and_accepted_at_alias_a()
    {
        using var dir = new TempDirectory("cross-alias");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);
        var withSecretA = new CmpEnrollment
        {
            Reference = "ra-a",
            Secret = SecretA,
            Subject = "/CN=cross-alias/O=Example",
            Trusted = Node.RootCaPath,
        };

        OpenSslResult atB = await (withSecretA with { Path = "cmp/ra-b", CertOut = "cert-b.pem", ResponsesOut = "error-b.der" }).RunAsync(Node, dir.Path);
        AssertRefusedWithSignedBadMessageCheck(atB, dir, "cert-b.pem", "error-b.der");

        OpenSslResult atA = await (withSecretA with { Path = "cmp/ra-a", CertOut = "cert-a.pem" }).RunAsync(Node, dir.Path);
        E2e.Succeeded(atA, Node);
        E2e.OutputContains(atA, "received PKICONF", Node);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert-a.pem"), key, [("2.5.4.3", "cross-alias"), ("2.5.4.10", "Example")]);
    }

    [Fact]
    public async Task Secret_of_alias_b_is_refused_at_the_default_alias()
    {
        using var dir = new TempDirectory("cross-alias-default");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        var withSecretB = new CmpEnrollment
        {
            Reference = "ra-b",
            Secret = SecretB,
            Subject = "/CN=cross-alias-default/O=Example",
            Trusted = Node.RootCaPath,
        };

        OpenSslResult atDefault = await (withSecretB with { Path = ".well-known/cmp/p/ra", ResponsesOut = "error.der" }).RunAsync(Node, dir.Path);
        AssertRefusedWithSignedBadMessageCheck(atDefault, dir, "cert.pem", "error.der");

        // Control: the same request at its own alias is fine, so the refusal above is about the alias.
        OpenSslResult atB = await (withSecretB with { Path = "cmp/ra-b", CertOut = "cert-b.pem" }).RunAsync(Node, dir.Path);
        E2e.Succeeded(atB, Node);
        E2e.OutputContains(atB, "received PKICONF", Node);
    }

    private void AssertRefusedWithSignedBadMessageCheck(OpenSslResult result, TempDirectory dir, string certOut, string errorOut)
    {
        E2e.Failed(result, Node);
        E2e.OutputContains(result, "badMessageCheck", Node);
        E2e.OutputContains(result, "received ERROR", Node);
        Assert.False(File.Exists(dir.File(certOut)), "a certificate was issued for a request MAC-protected with another alias's secret");
        CmpResponseView error = E2e.ReadSaved(dir.File(errorOut), Node);
        Assert.Equal(PkiBodyType.Error, error.BodyType);
        Assert.Contains(PkiFailureInfo.BadMessageCheck, error.FailInfo);
        Assert.True(error.VerifySignature(E2e.DerOfPem(Node.CmpSignerPath)), "the error is not signed by the CMP signer");
    }
}
