using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Client mode with the real OpenSSL client: an end entity registered with a one-time code enrolls with
/// <c>-ref username -secret pass:code</c> (PasswordBasedMac keyed with the code), and the code then no longer works.
/// </summary>
public sealed class ClientModeOpenSslTests
{
    [Fact]
    public async Task Registered_device_enrolls_once_with_its_enrollment_code()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(
            ["--Cmp:Aliases:client:Mode=Client", "--Cmp:Aliases:client:ResponseProtection=Pbe"]);
        await using OrleansTestClient client = await node.ConnectClientAsync();
        Assert.NotNull(await client.RegisterAsync("gnb-0001", "CN=gnb-0001,O=Operator", "one-time-code-0001"));
        using var dir = new TempDirectory("client-mode");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);
        var enrollment = new CmpEnrollment
        {
            Path = "cmp/client",
            Reference = "gnb-0001",
            Secret = "one-time-code-0001",
            Subject = "/CN=gnb-0001/O=Operator",
        };

        OpenSslResult first = await enrollment.RunAsync(node, dir.Path);

        E2e.Succeeded(first, node);
        E2e.OutputContains(first, "received PKICONF", node);
        await E2e.AssertIssuedByNodeAsync(node, dir.Path, dir.File("cert.pem"), key, [("2.5.4.3", "gnb-0001"), ("2.5.4.10", "Operator")]);
        EndEntityView view = (await client.EndEntityAsync("gnb-0001"))!;
        Assert.Equal(EndEntityStatus.Generated, view.Status);
        CertificateRecord record = (await client.CertificateAsync(Assert.Single(view.CertificateKeys)))!;
        Assert.Equal(CertificateStatus.Confirmed, record.Status);

        OpenSslResult second = await (enrollment with { CertOut = "cert2.pem" }).RunAsync(node, dir.Path);
        E2e.Failed(second, node);
        E2e.OutputContains(second, "notAuthorized", node);

        OpenSslResult wrongCode = await (enrollment with { Secret = "guessed-code", CertOut = "cert3.pem" }).RunAsync(node, dir.Path);
        E2e.Failed(wrongCode, node);
        E2e.OutputContains(wrongCode, "notAuthorized", node);
    }
}
