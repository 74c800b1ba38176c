using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using CmpCluster.Grains.Audit;
using CmpCluster.Silo.Audit;
using CmpCluster.Tests.EndToEnd;
using Microsoft.Data.Sqlite;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>
/// A real node: its start is recorded, <c>GET /api/v1/audit</c> pages through the trail as JSON Lines behind the admin
/// token, the export verifies, and <c>CmpCluster.Silo audit verify --data</c> (its own process, no node started) checks
/// the data directory after a graceful stop, after a restart (two chains), and finds an edit of the database.
/// </summary>
public sealed class AuditExportEndpointTests
{
    private const string Token = "audit-test-token";

    [Fact]
    public async Task The_export_pages_with_a_cursor_and_the_verify_command_checks_the_data_directory()
    {
        await using NodeProcess node = await NodeProcess.StartAsync([$"--Admin:Tokens:0={Token}", "--Dashboard:Enabled=false"]);
        using HttpClient client = node.CreateManagementClient(); // the admin API is on the management listener
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/audit")).StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/audit?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/audit?limit=1001")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/audit?cursor=abc")).StatusCode);

        var lines = new List<string>();
        string? cursor = null;
        for (int pages = 0; ; pages++)
        {
            Assert.True(pages < 20, "the cursor does not advance");
            using HttpResponseMessage response = await client.GetAsync("/api/v1/audit?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal("application/jsonl", response.Content.Headers.ContentType?.MediaType);
            string next = Assert.Single(response.Headers.GetValues("Audit-Next-Cursor"));
            string[] page = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(page.Length <= 2);
            Assert.True(body.Length == 0 || body.EndsWith('\n'));
            if (page.Length == 0)
            {
                Assert.Equal(cursor, next);
                Assert.Equal("false", Assert.Single(response.Headers.GetValues("Audit-More")));
                break;
            }
            lines.AddRange(page);
            cursor = next;
        }
        List<AuditRecord> records = AuditTesting.Parse(lines);
        Assert.Equal([1L, 2, 3, 4, 5, 6], records.Select(r => r.Sequence));
        Assert.Equal((AuditEventType.KeyLoaded, "audit-key"), (records[0].Type, records[0].Target));
        Assert.Equal(AuditEventType.ConfigurationLoaded, records[1].Type);
        Assert.Equal(["issuing", "issuing/cmp", "issuing/ocsp"], records.Skip(2).Take(3).Select(r => r.Target));
        Assert.Equal(AuditEventType.Checkpoint, records[5].Type);

        string export = Path.Combine(Path.GetDirectoryName(node.DataDirectory)!, "audit-export.jsonl");
        await File.WriteAllLinesAsync(export, lines);
        string publicKey = Path.Combine(node.DataDirectory, AuditSigningKey.FolderName, AuditSigningKey.PublicKeyFileName);
        var output = new StringWriter();
        Assert.Equal(0, await AuditCommand.RunAsync(["audit", "verify", "--file", export, "--public-key", publicKey], output));
        Assert.Contains("OK: 6 records, 1 chains, 1 checkpoints", output.ToString());

        Assert.True(await node.StopAsync(), node.Diagnostics());
        (int exit, string text) = await VerifyCommandAsync(node.DataDirectory);
        Assert.True(exit == 0, text);
        Assert.Contains("OK: 7 records, 1 chains, 2 checkpoints", text); // + the final checkpoint of the graceful stop

        await node.StartAsync();
        Assert.True(await node.StopAsync(), node.Diagnostics());
        (exit, text) = await VerifyCommandAsync(node.DataDirectory);
        Assert.True(exit == 0, text);
        Assert.Contains("OK: 14 records, 2 chains, 4 checkpoints", text);

        using (var connection = new SqliteConnection($"Data Source={SqliteAuditStore.PathIn(node.DataDirectory)};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "DROP TRIGGER audit_records_no_update; UPDATE audit_records SET target = 'issuing/other' WHERE id = 3;";
            command.ExecuteNonQuery();
        }
        (exit, text) = await VerifyCommandAsync(node.DataDirectory);
        Assert.True(exit == 1, text);
        Assert.Contains("FAILED: record #4", text);
    }

    /// <summary>Runs <c>CmpCluster.Silo.dll audit verify --data DIR</c> as an operator would (its default public key).</summary>
    private static async Task<(int Exit, string Output)> VerifyCommandAsync(string dataDirectory)
    {
        (string dll, _) = NodeLaunch.LocateSilo();
        var info = new ProcessStartInfo(NodeLaunch.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { dll, "audit", "verify", "--data", dataDirectory },
        };
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
