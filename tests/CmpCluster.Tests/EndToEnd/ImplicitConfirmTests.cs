using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 3: <c>-implicit_confirm</c> — granted by the shipped alias, refused by one that does not allow it.</summary>
public sealed class ImplicitConfirmTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Implicit_confirm_is_granted_and_no_certConf_is_sent()
    {
        using var dir = new TempDirectory("implicit");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Subject = "/CN=e2e-implicit",
            ResponsesOut = "ip.der",
            Extra = ["-implicit_confirm"],
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received IP", Node);
        E2e.OutputLacks(result, "sending CERTCONF", Node);
        E2e.OutputLacks(result, "PKICONF", Node);
        CmpResponseView ip = E2e.ReadSaved(dir.File("ip.der"), Node);
        Assert.True(ip.ImplicitConfirmGranted, "ip does not carry implicitConfirm in generalInfo");
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "e2e-implicit")]);

        // Implicitly confirmed means confirmed now, not revoked when the confirm wait time runs out.
        using X509Certificate2 certificate = E2e.LoadCertificate(dir.File("cert.pem"));
        OrleansTestClient client = await fixture.ClientAsync();
        CertificateRecord? record = await client.CertificateAsync("issuing", E2e.SerialHex(certificate));
        Assert.NotNull(record);
        Assert.Equal(CertificateStatus.Confirmed, record.Status);
    }

    [Fact]
    public async Task Alias_that_disallows_implicit_confirm_makes_the_client_confirm()
    {
        using var dir = new TempDirectory("no-implicit");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Path = "cmp/" + NodeFixture.NoImplicitConfirmAlias,
            Reference = NodeFixture.NoImplicitConfirmAlias,
            Secret = NodeFixture.NoImplicitConfirmSecret,
            Subject = "/CN=e2e-no-implicit",
            ResponsesOut = "ip.der,pkiconf.der",
            Extra = ["-implicit_confirm"],
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "sending CERTCONF", Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        Assert.False(E2e.ReadSaved(dir.File("ip.der"), Node).ImplicitConfirmGranted, "implicitConfirm granted although the alias forbids it");
    }
}
