using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Flow 8: what the node acknowledged survives SIGKILL. Each test owns its node (killed and restarted on the same
/// data directory), so nothing here shares a fixture.
/// </summary>
public sealed class RestartDurabilityTests
{
    [Theory]
    [InlineData("sigkill")]
    [InlineData("sigterm")]
    public async Task Confirmed_certificate_and_ca_keys_survive_a_restart_and_enrollment_continues(string stop)
    {
        await using NodeProcess node = await NodeProcess.StartAsync();
        using var dir = new TempDirectory("restart");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult first = await new CmpEnrollment { Subject = "/CN=e2e-restart/O=Example", CertOut = "first.pem" }.RunAsync(node, dir.Path);
        E2e.Succeeded(first, node);
        E2e.OutputContains(first, "sending CERTCONF", node);
        E2e.OutputContains(first, "received PKICONF", node);
        using X509Certificate2 firstCertificate = E2e.LoadCertificate(dir.File("first.pem"));
        string serial = E2e.SerialHex(firstCertificate);
        byte[] rootBefore = await File.ReadAllBytesAsync(node.RootCaPath);
        byte[] issuingBefore = await File.ReadAllBytesAsync(node.IssuingCaPath);
        byte[] signerBefore = await File.ReadAllBytesAsync(node.CmpSignerPath);

        if (stop == "sigkill")
        {
            // The PKICONF was the acknowledgement: no graceful shutdown, no flush.
            await node.KillAsync();
        }
        else
        {
            Assert.True(await node.StopAsync(), $"the node did not exit on SIGTERM within 30 s\n{node.Diagnostics()}");
        }
        await node.StartAsync();

        Assert.Equal(rootBefore, await File.ReadAllBytesAsync(node.RootCaPath));
        Assert.Equal(issuingBefore, await File.ReadAllBytesAsync(node.IssuingCaPath));
        Assert.Equal(signerBefore, await File.ReadAllBytesAsync(node.CmpSignerPath));

        await using (OrleansTestClient client = await node.ConnectClientAsync())
        {
            CertificateRecord? record = await client.CertificateAsync("issuing", serial);
            Assert.True(record is not null, $"no record for serial {serial} after restart\n{node.Diagnostics()}");
            Assert.Equal(CertificateStatus.Confirmed, record.Status);
            Assert.Equal(firstCertificate.RawData, record.Der);
            Assert.Equal("ra:ra", record.Intent.Owner);
            Assert.Equal(serial, record.Intent.SerialHex);
        }

        OpenSslResult second = await new CmpEnrollment { Subject = "/CN=e2e-restart/O=Example", CertOut = "second.pem" }.RunAsync(node, dir.Path);
        E2e.Succeeded(second, node);
        E2e.OutputContains(second, "received PKICONF", node);
        // Same CA key after the restart: the new certificate chains to the same root through the same issuing CA.
        await E2e.AssertIssuedByNodeAsync(node, dir.Path, dir.File("second.pem"), key, [("2.5.4.3", "e2e-restart"), ("2.5.4.10", "Example")]);
        using X509Certificate2 secondCertificate = E2e.LoadCertificate(dir.File("second.pem"));
        Assert.NotEqual(serial, E2e.SerialHex(secondCertificate));
    }
}
