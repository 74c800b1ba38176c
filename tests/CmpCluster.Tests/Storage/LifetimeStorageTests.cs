using CmpCluster.Grains.Storage;
using CmpCluster.Silo.Storage;
using CmpCluster.Tests.Cluster;
using Microsoft.Data.Sqlite;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using StackExchange.Redis;
using Xunit;

namespace CmpCluster.Tests.Storage;

/// <summary>A state with a lifetime, as a transaction has one (grains/Storage/StateLifetime.cs).</summary>
[GenerateSerializer]
public sealed class TimedState : IStateLifetime
{
    [Id(0)] public string Value { get; set; } = "";
    [Id(1)] public DateTimeOffset? Due { get; set; }
    [Id(2)] public DateTimeOffset? Expires { get; set; }

    public DateTimeOffset? DueAt => Due;
    public DateTimeOffset? ExpiresAt => Expires;
}

/// <summary>
/// The two transaction stores (SQLite single-node, Redis in a cluster) keep a state's due time and expiry with the state:
/// the index answers exactly the due states, a state written without a due time leaves it, an expired state is really
/// deleted (no row, no key), and an ETag from before a delete never matches what is written after it.
/// </summary>
public sealed class LifetimeStorageTests : IDisposable
{
    internal const string StateName = "timed";
    internal static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SqliteGrainStorage Sqlite() => Open("tx", _dir.Options());

    private static SqliteGrainStorage Open(string provider, SqliteStoreOptions options) =>
        new(provider, options, StorageServices.Serializer("orleans"), StorageServices.Activators);

    internal static GrainId Grain(string key) => GrainId.Create("timed", key);

    [Fact]
    public async Task Sqlite_indexes_due_states_with_the_write_and_forgets_them_when_a_write_has_none()
    {
        using SqliteGrainStorage storage = Sqlite();
        await DueIndexBehavesAsync(storage, storage);
    }

    [Fact]
    public async Task Sqlite_deletes_expired_states_and_leaves_no_row()
    {
        using SqliteGrainStorage storage = Sqlite();
        var expired = new GrainState<TimedState>(new TimedState { Value = "old", Expires = Now.AddMinutes(-1) });
        var kept = new GrainState<TimedState>(new TimedState { Value = "new", Expires = Now.AddMinutes(5) });
        var forever = new GrainState<TimedState>(new TimedState { Value = "no expiry" });
        await storage.WriteStateAsync(StateName, Grain("expired"), expired);
        await storage.WriteStateAsync(StateName, Grain("kept"), kept);
        await storage.WriteStateAsync(StateName, Grain("forever"), forever);

        Assert.Equal(1, await storage.PruneExpiredAsync(Now, 100));

        Assert.Equal(2, RowCount());
        var read = new GrainState<TimedState>();
        await storage.ReadStateAsync(StateName, Grain("expired"), read);
        Assert.False(read.RecordExists);
        // The activation that wrote it cannot write over what a new activation writes now (no ABA after a delete).
        var fresh = new GrainState<TimedState>(new TimedState { Value = "again" });
        await storage.WriteStateAsync(StateName, Grain("expired"), fresh);
        expired.State!.Value = "stale";
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain("expired"), expired));
    }

    [Fact]
    public async Task Sqlite_clear_deletes_the_row()
    {
        using SqliteGrainStorage storage = Sqlite();
        var state = new GrainState<TimedState>(new TimedState { Value = "x", Due = Now });
        await storage.WriteStateAsync(StateName, Grain("clear"), state);

        await storage.ClearStateAsync(StateName, Grain("clear"), state);

        Assert.Equal(0, RowCount());
        Assert.Empty(await storage.DueAsync(Now, 10));
    }

    [Fact]
    public async Task Sqlite_provider_with_a_table_of_its_own_takes_its_rows_from_the_default_table_once()
    {
        // An earlier version kept this provider's rows in the default table, beside another provider's.
        var open = new GrainState<TimedState>(new TimedState { Value = "open", Due = Now.AddMinutes(-1) });
        var closed = new GrainState<TimedState>(new TimedState { Value = "closed", Expires = Now.AddMinutes(5) });
        var other = new GrainState<TimedState>(new TimedState { Value = "certificate" });
        using (SqliteGrainStorage before = Sqlite())
        using (SqliteGrainStorage neighbour = Open("cmp", _dir.Options()))
        {
            await before.WriteStateAsync(StateName, Grain("open"), open);
            await before.WriteStateAsync(StateName, Grain("closed"), closed);
            await neighbour.WriteStateAsync(StateName, Grain("certificate"), other);
        }

        using SqliteGrainStorage after = OwnTable();
        Assert.Equal([Grain("open")], await after.DueAsync(Now, 10));
        var read = new GrainState<TimedState>();
        await after.ReadStateAsync(StateName, Grain("closed"), read);
        Assert.Equal("closed", read.State!.Value);
        // The rows kept their versions: the activation that wrote them before the move still writes.
        open.State!.Due = null;
        await after.WriteStateAsync(StateName, Grain("open"), open);
        Assert.Empty(await after.DueAsync(Now, 10));
        Assert.Equal(1, RowCount());                 // the default table keeps the other provider's row only
        Assert.Equal(2, RowCount("transaction_state"));
        after.Dispose();
        using SqliteGrainStorage again = OwnTable();  // a second start moves nothing twice
        Assert.Equal(2, RowCount("transaction_state"));
    }

    [Fact]
    public async Task Sqlite_states_pruned_from_a_table_of_their_own_leave_pages_that_new_states_reuse()
    {
        // Transactions written beside certificates, as each enrollment does, then pruned at the end of retention while
        // the certificates stay. In the default table the pruned rows leave holes inside pages that still hold
        // certificates, and new rows are appended after them; in their own table whole pages empty and are reused.
        // Pages the file grew by in the second batch of 2 000 enrollments, after the first batch's transactions were
        // pruned; without a first batch (the certificates alone, in an empty file): what 2 000 certificates take.
        async Task<long> GrownAsync(bool ownTable, bool firstBatch = true, bool transactionsInSecondBatch = true)
        {
            using var dir = new TempDataDirectory();
            SqliteStoreOptions transactionOptions = dir.Options();
            if (ownTable)
            {
                transactionOptions.TableName = "transaction_state";
            }
            using SqliteGrainStorage transactions = Open("tx", transactionOptions);
            using SqliteGrainStorage certificates = Open("cmp", dir.Options());
            async Task EnrollAsync(int from, DateTimeOffset expires, bool withTransactions)
            {
                for (int i = from; i < from + 2_000; i++)
                {
                    if (withTransactions)
                    {
                        await transactions.WriteStateAsync(StateName, Grain($"tx-{i}"), new GrainState<TimedState>(new TimedState { Value = new string('t', 1_400), Expires = expires }));
                    }
                    await certificates.WriteStateAsync(StateName, Grain($"cert-{i}"), new GrainState<TimedState>(new TimedState { Value = new string('c', 900) }));
                }
            }
            if (firstBatch)
            {
                await EnrollAsync(0, Now.AddMinutes(-1), withTransactions: true);
                while (await transactions.PruneExpiredAsync(Now, 500) > 0)
                {
                }
            }
            long before = FilePages(dir.DatabasePath); // the file: pages in use and the free list
            await EnrollAsync(2_000, Now.AddMinutes(5), transactionsInSecondBatch);
            return FilePages(dir.DatabasePath) - before;
        }

        long certificates = await GrownAsync(ownTable: true, firstBatch: false, transactionsInSecondBatch: false);
        long shared = await GrownAsync(ownTable: false), own = await GrownAsync(ownTable: true);
        // In their own table the new transactions fill the pages the pruned ones freed: the file grows by what the
        // certificates take. Beside certificates, part of that room stays stranded in pages the certificates keep.
        string figures = $"pages: 2 000 certificates take {certificates}; the file grew by {own} (own table), {shared} (shared table)";
        Assert.True(own <= certificates * 1.1, figures);
        Assert.True(shared > certificates * 1.2, figures);
    }

    private static long FilePages(string databasePath)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA page_count;";
        return (long)command.ExecuteScalar()!;
    }

    private SqliteGrainStorage OwnTable()
    {
        SqliteStoreOptions options = _dir.Options();
        options.TableName = "transaction_state";
        return Open("tx", options);
    }

    /// <summary>The due index, identical for both stores.</summary>
    internal static async Task DueIndexBehavesAsync(IGrainStorage storage, IStateLifetimeIndex index)
    {
        var early = new GrainState<TimedState>(new TimedState { Value = "a", Due = Now.AddMinutes(-2) });
        var later = new GrainState<TimedState>(new TimedState { Value = "b", Due = Now.AddMinutes(-1) });
        var future = new GrainState<TimedState>(new TimedState { Value = "c", Due = Now.AddMinutes(5) });
        await storage.WriteStateAsync(StateName, Grain("later"), later);
        await storage.WriteStateAsync(StateName, Grain("early"), early);
        await storage.WriteStateAsync(StateName, Grain("future"), future);

        Assert.Equal([Grain("early"), Grain("later")], await index.DueAsync(Now, 10));
        Assert.Equal([Grain("early")], await index.DueAsync(Now, 1));

        early.State!.Due = null; // the transaction acted: its write carries no due time any more
        await storage.WriteStateAsync(StateName, Grain("early"), early);
        Assert.Equal([Grain("later")], await index.DueAsync(Now, 10));

        // A write that loses its ETag check changes neither the state nor the index.
        var stale = new GrainState<TimedState>(new TimedState { Value = "stale" }, "12345");
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, Grain("later"), stale));
        Assert.Equal([Grain("later")], await index.DueAsync(Now, 10));
    }

    private long RowCount(string table = SqliteStoreOptions.DefaultTableName)
    {
        using var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return (long)command.ExecuteScalar()!;
    }
}

/// <summary>The Redis transaction store against a real redis-server on a free loopback port; skipped without redis-server.</summary>
public sealed class RedisLifetimeStorageTests : IAsyncLifetime
{
    private readonly ScratchRedis _redis = new("lifetime-redis");

    private string Connection => _redis.Connection;

    public Task InitializeAsync() => _redis.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [ClusterFact]
    public async Task Redis_indexes_due_states_with_the_write_and_expires_states_itself()
    {
        string service = "svc-" + Guid.NewGuid().ToString("N")[..8];
        await using var storage = new RedisLifetimeGrainStorage(ConfigurationOptions.Parse(Connection), service,
            RedisStateLayout.Transactions(LifetimeStorageTests.StateName), StorageServices.Serializer("orleans"), StorageServices.Activators);
        await LifetimeStorageTests.DueIndexBehavesAsync(storage, storage);

        // Expiry is the key's own: Redis deletes it at the end of retention.
        DateTimeOffset soon = DateTimeOffset.UtcNow.AddMilliseconds(300);
        var closing = new GrainState<TimedState>(new TimedState { Value = "closed", Expires = soon });
        await storage.WriteStateAsync(LifetimeStorageTests.StateName, LifetimeStorageTests.Grain("closing"), closing);
        using ConnectionMultiplexer client = await ConnectionMultiplexer.ConnectAsync(Connection);
        RedisKey key = $"{service}/state/{LifetimeStorageTests.StateName}/{LifetimeStorageTests.Grain("closing")}";
        Assert.NotNull(await client.GetDatabase().KeyTimeToLiveAsync(key));
        for (int i = 0; i < 50 && await client.GetDatabase().KeyExistsAsync(key); i++)
        {
            await Task.Delay(50);
        }
        Assert.False(await client.GetDatabase().KeyExistsAsync(key));
        var read = new GrainState<TimedState>();
        await storage.ReadStateAsync(LifetimeStorageTests.StateName, LifetimeStorageTests.Grain("closing"), read);
        Assert.False(read.RecordExists);
        // A stale ETag from before the expiry cannot write.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(LifetimeStorageTests.StateName, LifetimeStorageTests.Grain("closing"), closing));
    }

    [ClusterFact]
    public async Task State_an_earlier_version_stored_through_orleans_redis_storage_is_read_and_written_in_place()
    {
        string service = "svc-" + Guid.NewGuid().ToString("N")[..8];
        IGrainStorageSerializer serializer = StorageServices.Serializer("orleans");
        // Orleans' own provider, as earlier versions stored certificates, end entities and CA state in cluster mode.
        var orleans = new Orleans.Persistence.RedisGrainStorage("cmp",
            new Orleans.Persistence.RedisStorageOptions { ConfigurationOptions = ConfigurationOptions.Parse(Connection) }, serializer,
            Microsoft.Extensions.Options.Options.Create(new Orleans.Configuration.ClusterOptions { ServiceId = service, ClusterId = "c" }),
            StorageServices.Activators, Microsoft.Extensions.Logging.Abstractions.NullLogger<Orleans.Persistence.RedisGrainStorage>.Instance);
        await (Task)typeof(Orleans.Persistence.RedisGrainStorage).GetMethod("Init", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(orleans, [CancellationToken.None])!;
        await using var storage = new RedisLifetimeGrainStorage(ConfigurationOptions.Parse(Connection), service,
            RedisStateLayout.Orleans("cmp"), serializer, StorageServices.Activators);
        GrainId grain = GrainId.Create("certificate", "issuing/0A1B");

        var before = new GrainState<TimedState>(new TimedState { Value = "written by orleans" });
        await orleans.WriteStateAsync("certificate", grain, before);
        var read = new GrainState<TimedState>();
        await storage.ReadStateAsync("certificate", grain, read);
        Assert.True(read.RecordExists);
        Assert.Equal("written by orleans", read.State!.Value);
        Assert.Equal(before.ETag, read.ETag);

        // Written in place with the ETag Orleans gave it; the old provider reads the change (and could go on writing).
        read.State.Value = "written by this store";
        await storage.WriteStateAsync("certificate", grain, read);
        var back = new GrainState<TimedState>();
        await orleans.ReadStateAsync("certificate", grain, back);
        Assert.Equal("written by this store", back.State!.Value);
        Assert.Equal(read.ETag, back.ETag);
        // An ETag from before that write no longer matches.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("certificate", grain, before));

        // A state Orleans cleared (an end entity deleted) keeps its key with an empty payload: it does not exist, and the
        // next write presents the ETag of the clear.
        await orleans.ClearStateAsync("certificate", grain, back);
        var cleared = new GrainState<TimedState>();
        await storage.ReadStateAsync("certificate", grain, cleared);
        Assert.False(cleared.RecordExists);
        cleared.State!.Value = "registered again";
        await storage.WriteStateAsync("certificate", grain, cleared);
        await orleans.ReadStateAsync("certificate", grain, back);
        Assert.Equal("registered again", back.State!.Value);

        // The layout indexes due times as the transactions' does.
        await LifetimeStorageTests.DueIndexBehavesAsync(storage, storage);
    }
}
