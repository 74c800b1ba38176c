using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// Flow 9: a certificate the client never confirms is revoked after the alias's confirm wait time — even when the
/// node is SIGKILLed right after answering and the deadline passes while it is down (the reminder is durable).
/// </summary>
public sealed class ConfirmTimeoutRestartTests
{
    private static readonly string[] ShortConfirmWait =
    [
        "--Cmp:Aliases:ra:ConfirmWaitTime=00:00:03",
        "--Cmp:ConfirmCheckPeriod=00:00:05",
    ];

    [Fact]
    public async Task Unconfirmed_certificate_is_revoked_after_sigkill_and_restart()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(ShortConfirmWait);
        using var dir = new TempDirectory("confirm-timeout");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Subject = "/CN=e2e-unconfirmed",
            Extra = ["-disable_confirm"],
        }.RunAsync(node, dir.Path);
        await node.KillAsync();

        E2e.Succeeded(result, node);
        E2e.OutputContains(result, "received IP", node);
        E2e.OutputLacks(result, "sending CERTCONF", node);
        using X509Certificate2 certificate = E2e.LoadCertificate(dir.File("cert.pem"));
        string serial = E2e.SerialHex(certificate);

        await node.StartAsync();
        await using OrleansTestClient client = await node.ConnectClientAsync();
        CertificateRecord? record = null;
        var seen = new List<CertificateStatus>();
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(60))
        {
            record = await client.CertificateAsync("issuing", serial);
            if (record is not null && (seen.Count == 0 || seen[^1] != record.Status))
            {
                seen.Add(record.Status);
            }
            if (record?.Status is CertificateStatus.Revoked or CertificateStatus.Confirmed)
            {
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        Assert.True(record?.Status == CertificateStatus.Revoked,
            $"serial {serial}: statuses seen {string.Join(" → ", seen)} in {stopwatch.Elapsed.TotalSeconds:0} s, expected Revoked\n{node.Diagnostics()}");
        Assert.Equal(certificate.RawData, record!.Der);
        Assert.NotNull(record.RevokedAt);
        Assert.Equal("ra:ra", record.Intent.Owner);
    }
}
