using CmpCluster.Grains.Audit;
using CmpCluster.Silo.Audit;
using CmpCluster.Tests.Storage;
using Xunit;

namespace CmpCluster.Tests.Audit;

/// <summary>The writer: batching of concurrent appends, refusal while the store cannot be written, and its records.</summary>
public sealed class AuditTrailTests
{
    [Fact]
    public async Task Concurrent_appends_share_store_writes_and_every_caller_finds_its_record_stored()
    {
        using var data = new TempDataDirectory();
        using var sqlite = new SqliteAuditStore(SqliteAuditStore.PathIn(data.Path));
        var store = new CountingStore(sqlite);
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key, maxBatchSize: 32, maxBatchDelay: TimeSpan.FromMilliseconds(2));
        await trail.StartAsync();
        int writesBefore = store.Writes;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(appender => Task.Run(async () =>
        {
            for (int i = 0; i < 20; i++)
            {
                await trail.AppendAsync(AuditTesting.Event(appender * 100 + i));
            }
        })));
        int writes = store.Writes - writesBefore;
        await trail.StopAsync();

        List<AuditRecord> records = await AuditTesting.ReadAllAsync(sqlite, 500);
        Assert.Equal(64 * 20, records.Count(r => r.Type == AuditEventType.CertificateSigned));
        Assert.Equal(64 * 20, records.Select(r => r.Target).Distinct().Count(r => r.StartsWith("issuing/", StringComparison.Ordinal)));
        Assert.True(writes < 64 * 20, $"{writes} store writes for {64 * 20} appends: no batching");
        Assert.True(store.LargestBatch <= 32, $"a batch of {store.LargestBatch} records exceeds MaxBatchSize");
        AuditVerifier verifier = AuditTesting.Verify(records.Select(AuditJson.ToLine), key);
        Assert.True(verifier.Error is null, verifier.Error?.ToString());
    }

    [Fact]
    public async Task A_store_that_cannot_be_written_refuses_the_append_and_the_chain_continues_once_it_recovers()
    {
        var store = new InMemoryAuditStore();
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key);
        await trail.StartAsync();
        await trail.AppendAsync(AuditTesting.Event(1));
        int stored = store.Records.Count;

        store.Unavailable = true;
        AuditUnavailableException refused = await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.AppendAsync(AuditTesting.Event(2)));
        Assert.IsType<IOException>(refused.InnerException);
        await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.CheckpointAsync());
        Assert.Equal(stored, store.Records.Count);

        store.Unavailable = false;
        await trail.AppendAsync(AuditTesting.Event(3));
        await trail.StopAsync();
        Assert.DoesNotContain(store.Records, r => r.Target == "issuing/000002");
        AuditVerifier verifier = AuditTesting.Verify(store.Records.Select(AuditJson.ToLine), key);
        Assert.True(verifier.Error is null, verifier.Error?.ToString());
    }

    [Fact]
    public async Task A_stopped_trail_refuses_appends()
    {
        var store = new InMemoryAuditStore();
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key);
        await trail.StartAsync();
        await trail.StopAsync();
        await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.AppendAsync(AuditTesting.Event(1)));
        Assert.Equal(AuditEventType.Checkpoint, store.Records[^1].Type);
        Assert.True(AuditCheckpoint.TryParse(store.Records[^1].Detail, out AuditCheckpoint final) && final.Final);
    }

    [Fact]
    public async Task Records_carry_the_chain_sequence_event_and_a_long_field_is_cut()
    {
        var store = new InMemoryAuditStore();
        using AuditSigningKey key = AuditSigningKey.Ephemeral();
        AuditTrail trail = AuditTesting.Trail(store, key, "silo-1:11111");
        await trail.StartAsync();
        await trail.AppendAsync(new AuditEvent(AuditEventType.AuthenticationFailed, "ra", new string('x', 5000), "pbm: wrong MAC"));
        await trail.StopAsync();

        Assert.StartsWith("silo-1:11111/", trail.ChainId);
        Assert.Equal([1L, 2, 3, 4], store.Records.Select(r => r.Sequence));
        Assert.Equal(AuditCanonical.Genesis(trail.ChainId), store.Records[0].PreviousHash);
        Assert.Equal(AuditEventType.KeyLoaded, store.Records[0].Type);
        Assert.Equal($"key={key.KeyId}", store.Records[0].Detail);
        AuditRecord failed = store.Records[2];
        Assert.Equal((AuditEventType.AuthenticationFailed, "ra", "pbm: wrong MAC"), (failed.Type, failed.Actor, failed.Detail));
        Assert.Equal(AuditRecord.MaxFieldLength, failed.Target.Length);
        Assert.All(store.Records.Where(r => r.Type != AuditEventType.Checkpoint), r => Assert.Null(r.Signature));
    }

    [Fact]
    public async Task The_key_is_stored_encrypted_with_its_public_key_beside_it_and_a_wrong_passphrase_is_refused()
    {
        using var data = new TempDataDirectory();
        string keyId;
        using (AuditSigningKey key = AuditSigningKey.LoadOrCreate(data.Path, "right passphrase", out _))
        {
            keyId = key.KeyId;
            string pem = await File.ReadAllTextAsync(key.KeyPath!);
            Assert.Contains("BEGIN ENCRYPTED PRIVATE KEY", pem);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key.KeyPath!));
            }
        }
        var keys = new AuditVerificationKeys();
        keys.AddPem(await File.ReadAllTextAsync(Path.Combine(data.Path, AuditSigningKey.FolderName, AuditSigningKey.PublicKeyFileName)));
        Assert.True(keys.Knows(keyId));
        Assert.Throws<InvalidOperationException>(() => AuditSigningKey.LoadOrCreate(data.Path, "wrong passphrase", out _));
    }

    /// <summary>Counts store writes and remembers the largest batch, passing everything on to a real store.</summary>
    private sealed class CountingStore(IAuditStore inner) : IAuditStore
    {
        private int _writes;
        private int _largest;

        public int Writes => Volatile.Read(ref _writes);
        public int LargestBatch => Volatile.Read(ref _largest);

        public async Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
        {
            await inner.AppendAsync(records, cancellationToken);
            Interlocked.Increment(ref _writes);
            int largest;
            while ((largest = Volatile.Read(ref _largest)) < records.Count && Interlocked.CompareExchange(ref _largest, records.Count, largest) != largest)
            {
            }
        }

        public Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default) => inner.ReadHeadAsync(chainId, cancellationToken);
        public Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default) => inner.ReadChainIndexAsync(cancellationToken);
        public Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default) => inner.ReadAsync(cursor, limit, cancellationToken);
    }
}
