using CmpCluster.Grains.Audit;
using CmpCluster.Silo.Audit;
using CmpCluster.Tests.Storage;
using Microsoft.Data.Sqlite;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>
/// The single node's store on a real SQLite file: durable across reopening, all-or-nothing batches, append-only
/// triggers, and every kind of edit of the file found by <c>audit verify --data</c> (run in-process here).
/// </summary>
public sealed class AuditSqliteStoreTests : IDisposable
{
    private const string Passphrase = "audit-test-passphrase";
    private const string FirstChain = "(SELECT chain_id FROM audit_chains ORDER BY position LIMIT 1)";
    private readonly TempDataDirectory _data = new();

    public void Dispose() => _data.Dispose();

    private string DatabasePath => SqliteAuditStore.PathIn(_data.Path);

    [Fact]
    public async Task Records_survive_closing_and_reopening_the_store_and_a_second_chain_continues_the_index()
    {
        string firstChain;
        using (AuditSigningKey key = AuditSigningKey.LoadOrCreate(_data.Path, Passphrase, out bool created))
        using (var store = new SqliteAuditStore(DatabasePath))
        {
            Assert.True(created);
            AuditTrail trail = AuditTesting.Trail(store, key, "node-a");
            await trail.StartAsync();
            for (int i = 0; i < 25; i++)
            {
                await trail.AppendAsync(AuditTesting.Event(i));
            }
            await trail.StopAsync();
            firstChain = trail.ChainId;
        }

        using (AuditSigningKey key = AuditSigningKey.LoadOrCreate(_data.Path, Passphrase, out bool created))
        using (var store = new SqliteAuditStore(DatabasePath))
        {
            Assert.False(created);
            List<AuditRecord> stored = await AuditTesting.ReadAllAsync(store);
            Assert.Equal(2 + 25 + 1, stored.Count); // KeyLoaded, start checkpoint, the events, final checkpoint
            Assert.Equal(Enumerable.Range(0, 25).Select(i => $"issuing/{i:X6}"), stored.Where(r => r.Type == AuditEventType.CertificateSigned).Select(r => r.Target));
            AuditTrail second = AuditTesting.Trail(store, key, "node-a");
            await second.StartAsync();
            await second.AppendAsync(AuditTesting.Event(99));
            await second.StopAsync();
            Assert.Equal([firstChain, second.ChainId], await store.ReadChainIndexAsync());
        }

        (int exit, string output) = await VerifyAsync();
        Assert.True(exit == 0, output);
        Assert.Contains("OK: 32 records, 2 chains, 4 checkpoints", output);
    }

    [Fact]
    public async Task A_batch_that_fails_half_way_leaves_nothing_behind()
    {
        using var store = new SqliteAuditStore(DatabasePath);
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key);
        await trail.StartAsync();
        await trail.AppendAsync(AuditTesting.Event(0));
        AuditChainHead head = (await store.ReadHeadAsync(trail.ChainId))!;
        Execute("CREATE TRIGGER simulated_failure BEFORE INSERT ON audit_records WHEN NEW.actor = 'poison' BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END;");

        // Straight to the store: the second of three records fails, the first must not stay.
        var batch = new List<AuditRecord>();
        byte[] previous = head.Hash;
        foreach ((long sequence, string actor) in new[] { (head.Sequence + 1, "ra"), (head.Sequence + 2, "poison"), (head.Sequence + 3, "ra") })
        {
            var record = new AuditRecord(trail.ChainId, sequence, DateTimeOffset.UtcNow, AuditEventType.IssuanceIntent, actor, "issuing/0A", null, previous);
            batch.Add(record);
            previous = record.ComputeHash();
        }
        await Assert.ThrowsAsync<SqliteException>(() => store.AppendAsync(batch));
        Assert.Equal(head.Sequence, (await store.ReadHeadAsync(trail.ChainId))!.Sequence);

        // Through the trail: concurrent appends share batches with the poisoned one; each caller learns its own fate.
        var appends = Enumerable.Range(1, 30).Select(i => (Target: $"issuing/{i:X6}",
            Task: trail.AppendAsync(i == 7 ? AuditTesting.Event(i, "poison") : AuditTesting.Event(i)))).ToList();
        await Task.WhenAll(appends.Select(a => a.Task.ContinueWith(_ => { }, TaskScheduler.Default)));
        Assert.IsType<AuditUnavailableException>(appends[6].Task.Exception?.InnerException);
        HashSet<string> stored = (await AuditTesting.ReadAllAsync(store, 100)).Select(r => r.Target).ToHashSet();
        foreach ((string target, Task task) in appends)
        {
            Assert.Equal(task.IsCompletedSuccessfully, stored.Contains(target));
            if (!task.IsCompletedSuccessfully)
            {
                Assert.IsType<AuditUnavailableException>(task.Exception?.InnerException);
            }
        }
        Execute("DROP TRIGGER simulated_failure;");
        await trail.AppendAsync(AuditTesting.Event(100));
        await trail.StopAsync();
        var keys = new AuditVerificationKeys();
        keys.Add(key);
        var verifier = new AuditVerifier(keys);
        Assert.All(await AuditTesting.ReadAllAsync(store, 100), r => Assert.True(verifier.Add(r), verifier.Error?.ToString()));
        Assert.True(verifier.Complete(await store.ReadChainIndexAsync()), verifier.Error?.ToString());
    }

    [Theory]
    [InlineData("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3;")]
    [InlineData("DELETE FROM audit_records WHERE seq = 3;")]
    [InlineData("DELETE FROM audit_chains;")]
    public async Task The_tables_refuse_updates_and_deletes(string sql)
    {
        await WriteChainAsync();
        SqliteException refused = Assert.Throws<SqliteException>(() => Execute(sql));
        Assert.Contains("append-only", refused.Message);
    }

    [Theory]
    [InlineData("changed", "previousHash is not the hash of the chain's record 3")]
    [InlineData("removed", "sequence 5 follows 3")]
    [InlineData("reordered", "sequence 5 follows 3")]
    [InlineData("inserted", "previousHash is not the hash of the chain's record 4")]
    [InlineData("chain removed", "a chain was removed")]
    public async Task An_edited_database_fails_verification(string edit, string reason)
    {
        await WriteChainAsync();
        (int exit, string output) = await VerifyAsync();
        Assert.True(exit == 0, output);

        // Someone with the file: drops the triggers first, then edits.
        Execute("DROP TRIGGER audit_records_no_update; DROP TRIGGER audit_records_no_delete; DROP TRIGGER audit_chains_no_delete;");
        Execute(edit switch
        {
            "changed" => "UPDATE audit_records SET actor = 'mallory' WHERE seq = 3 AND type = 'CertificateSigned';",
            "removed" => "DELETE FROM audit_records WHERE seq = 4 AND type = 'CertificateSigned';",
            // Records 4 and 5 of node-a trade places in the store order.
            "reordered" => """
                UPDATE audit_records SET id = -id WHERE seq IN (4, 5) AND type = 'CertificateSigned';
                UPDATE audit_records SET id = -id + 1 WHERE id = (SELECT max(id) FROM audit_records WHERE id < 0);
                UPDATE audit_records SET id = -id - 1 WHERE id < 0;
                """,
            // A record linked to node-a's record 3 slipped in after it; node-a's later records move up one place and number.
            "inserted" => $"""
                UPDATE audit_records SET id = id + 1000, seq = -seq - 1 WHERE seq > 3 AND chain_id = {FirstChain};
                UPDATE audit_records SET seq = -seq WHERE seq < 0;
                INSERT INTO audit_records (id, chain_id, seq, time, type, actor, target, detail, prev_hash, hash)
                    SELECT id + 1, chain_id, 4, time, 'CertificateRevoked', 'ra', 'issuing/00BEEF', NULL, hash, hash
                    FROM audit_records WHERE seq = 3 AND chain_id = {FirstChain};
                """,
            "chain removed" => $"DELETE FROM audit_records WHERE chain_id = {FirstChain}; DELETE FROM audit_chains WHERE position = 1;",
            _ => throw new ArgumentOutOfRangeException(nameof(edit), edit, null),
        });
        (exit, output) = await VerifyAsync();
        Assert.True(exit == 1, output);
        Assert.Contains("FAILED: record #", output);
        Assert.Contains(reason, output);
    }

    /// <summary>Two chains (node-a, then node-b, then node-a again so a checkpoint of node-a covers node-b) with events.</summary>
    private async Task WriteChainAsync()
    {
        using AuditSigningKey key = AuditSigningKey.LoadOrCreate(_data.Path, Passphrase, out _);
        using var store = new SqliteAuditStore(DatabasePath);
        AuditTrail first = AuditTesting.Trail(store, key, "node-a");
        await first.StartAsync();
        for (int i = 0; i < 5; i++)
        {
            await first.AppendAsync(AuditTesting.Event(i));
        }
        AuditTrail second = AuditTesting.Trail(store, key, "node-b");
        await second.StartAsync();
        await second.AppendAsync(AuditTesting.Event(50));
        await first.CheckpointAsync();
        await second.StopAsync();
        await first.StopAsync();
    }

    private async Task<(int Exit, string Output)> VerifyAsync()
    {
        var output = new StringWriter();
        int exit = await AuditCommand.RunAsync(["audit", "verify", "--data", _data.Path], output);
        return (exit, output.ToString());
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
