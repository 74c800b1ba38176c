using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 5: an alias configured on the command line with <c>ResponseProtection=Signature</c>.</summary>
public sealed class SignatureProtectedAliasTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Signature_protected_alias_enrolls_and_signs_every_response_with_the_cmp_signer()
    {
        using var dir = new TempDirectory("sig");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Path = ".well-known/cmp/p/" + NodeFixture.SigAlias,
            Reference = NodeFixture.SigAlias,
            Secret = NodeFixture.SigSecret,
            Subject = "/CN=e2e-sig/O=Example",
            ResponsesOut = "ip.der,pkiconf.der",
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "e2e-sig"), ("2.5.4.10", "Example")]);

        byte[] signer = E2e.DerOfPem(Node.CmpSignerPath);
        var session = new CmpClientSession(NodeFixture.SigSecret, NodeFixture.SigAlias);
        foreach ((string file, PkiBodyType type) in new[] { ("ip.der", PkiBodyType.Ip), ("pkiconf.der", PkiBodyType.PkiConf) })
        {
            CmpResponseView response = E2e.ReadSaved(dir.File(file), Node);
            Assert.Equal(type, response.BodyType);
            Assert.True(response.VerifySignature(signer), $"{file} is not signed by the CMP signer");
            Assert.False(session.VerifyMac(File.ReadAllBytes(dir.File(file))), $"{file} is MAC-protected on a signature alias");
        }
    }

    [Fact]
    public async Task Client_pinning_the_cmp_signer_certificate_accepts_the_responses()
    {
        using var dir = new TempDirectory("sig-srvcert");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        var enrollment = new CmpEnrollment
        {
            Path = "cmp/" + NodeFixture.SigAlias,
            Reference = NodeFixture.SigAlias,
            Secret = NodeFixture.SigSecret,
            Subject = "/CN=e2e-srvcert",
        };
        // -srvcert instead of -trusted: the client pins the signer itself.
        var arguments = enrollment.Arguments(Node).ToList();
        int trusted = arguments.IndexOf("-trusted");
        arguments.RemoveRange(trusted, 2);
        arguments.AddRange(["-srvcert", Node.CmpSignerPath]);

        OpenSslResult result = await OpenSsl.RunAsync(dir.Path, arguments);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received PKICONF", Node);
    }
}
