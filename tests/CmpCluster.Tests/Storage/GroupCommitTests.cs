using CmpCluster.Grains.Transactions;
using CmpCluster.Silo.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Xunit;

namespace CmpCluster.Tests.Storage;

/// <summary>
/// Grain-state writes share commits (silo/Storage/SqliteDatabase.cs, WriteAsync), and the node's storage serializer
/// (silo/Storage/PooledGrainStorageSerializer.cs) writes what Orleans' own one writes.
/// </summary>
public sealed class GroupCommitTests : IDisposable
{
    private const string StateName = "player";
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static PlayerState Sample(int score) => new("ada", score, DateTimeOffset.UnixEpoch, ["x"]);

    [Fact]
    public async Task A_burst_of_writes_shares_commits_and_a_stale_one_fails_alone()
    {
        using var storage = new SqliteGrainStorage("Default", _dir.Options(), StorageServices.Serializer("pooled"), StorageServices.Activators);
        // One grain written twice first, so that a second writer can present a stale ETag inside the burst.
        var contested = new GrainState<PlayerState>(Sample(1));
        await storage.WriteStateAsync(StateName, GrainId.Create("player", "contested"), contested);
        var stale = new GrainState<PlayerState>(Sample(2)) { ETag = contested.ETag };
        await storage.WriteStateAsync(StateName, GrainId.Create("player", "contested"), contested);

        // The storage's own database (one instance per file): holding its connection makes the whole burst queue up.
        var database = SqliteDatabase.Acquire(_dir.Options());
        try
        {
            long commitsBefore = database.WriteCommits;
            var held = new TaskCompletionSource();
            var entered = new TaskCompletionSource();
            Task blocker = Task.Run(() => database.RunAsync(db => { entered.SetResult(); held.Task.Wait(); return 0; }, CancellationToken.None));
            await entered.Task;
            const int writers = 300;
            Task[] burst = Enumerable.Range(0, writers)
                .Select(i => storage.WriteStateAsync(StateName, GrainId.Create("player", $"b{i}"), new GrainState<PlayerState>(Sample(i))))
                .Append(storage.WriteStateAsync(StateName, GrainId.Create("player", "contested"), stale))
                .ToArray();
            held.SetResult();
            await blocker;
            await Assert.ThrowsAsync<InconsistentStateException>(() => Task.WhenAll(burst));
            Assert.Equal(writers, burst.Count(t => t.IsCompletedSuccessfully));
            // 301 writes in batches of at most 64: a handful of commits, not one per write.
            Assert.InRange(database.WriteCommits - commitsBefore, 5, 20);
        }
        finally
        {
            database.Release();
        }

        var read = new GrainState<PlayerState>();
        for (int i = 0; i < 300; i++)
        {
            await storage.ReadStateAsync(StateName, GrainId.Create("player", $"b{i}"), read);
            Assert.Equal(i, read.State!.Score);
        }
        await storage.ReadStateAsync(StateName, GrainId.Create("player", "contested"), read);
        Assert.Equal(1, read.State!.Score);
        Assert.Equal(contested.ETag, read.ETag);
    }

    [Fact]
    public async Task A_write_that_throws_fails_alone_and_the_rest_of_its_batch_commits()
    {
        var database = SqliteDatabase.Acquire(_dir.Options());
        try
        {
            await database.RunAsync(db =>
            {
                db.ExecuteNonQuery("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);");
                return 0;
            }, CancellationToken.None);
            // Queued together: the gate is held, so all of them wait for one flush.
            var held = new TaskCompletionSource();
            var entered = new TaskCompletionSource();
            Task blocker = Task.Run(() => database.RunAsync(db => { entered.SetResult(); held.Task.Wait(); return 0; }, CancellationToken.None));
            await entered.Task;
            Task<int>[] writes = Enumerable.Range(0, 20).Select(i => database.WriteAsync(db =>
            {
                SqliteCommand insert = db.Command("INSERT INTO t (k, v) VALUES ($k, $v);", "$k", "$v");
                insert.Parameters[0].Value = i;
                insert.Parameters[1].Value = i == 7 ? DBNull.Value : (object)$"v{i}"; // NOT NULL: this one throws
                return insert.ExecuteNonQuery();
            }, CancellationToken.None)).ToArray();
            held.SetResult();
            await blocker;

            await Assert.ThrowsAsync<SqliteException>(() => writes[7]);
            for (int i = 0; i < writes.Length; i++)
            {
                if (i != 7)
                {
                    Assert.Equal(1, await writes[i]);
                }
            }
            long rows = await database.RunAsync(db => (long)db.Command("SELECT count(*) FROM t;").ExecuteScalar()!, CancellationToken.None);
            Assert.Equal(19, rows);
        }
        finally
        {
            database.Release();
        }
    }

    [Fact]
    public void The_pooled_serializer_writes_the_bytes_of_orleans_own_and_reads_them_back()
    {
        Serializer serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(TransactionState).Assembly))
            .BuildServiceProvider().GetRequiredService<Serializer>();
        var pooled = new PooledGrainStorageSerializer(serializer);
        var orleans = new OrleansGrainStorageSerializer(serializer);
        var state = new TransactionState
        {
            Phase = CmpCluster.Contracts.TransactionPhase.AwaitingConfirmation,
            LastResponse = Enumerable.Range(0, 1400).Select(i => (byte)i).ToArray(),
            CertificateKeys = ["ca/01", "ca/02"],
            ConfirmDeadline = DateTimeOffset.UnixEpoch.AddDays(1),
        };
        byte[] expected = orleans.Serialize(state).ToArray();
        Assert.Equal(expected, pooled.Serialize(state).ToArray());
        // Again on the same thread (the buffer is reused), then a state far above the retained size.
        Assert.Equal(expected, pooled.Serialize(state).ToArray());
        state.LastResponse = new byte[200_000];
        Assert.Equal(orleans.Serialize(state).ToArray(), pooled.Serialize(state).ToArray());
        TransactionState back = pooled.Deserialize<TransactionState>(pooled.Serialize(state))!;
        Assert.Equal(200_000, back.LastResponse!.Length);
        Assert.Equal(["ca/01", "ca/02"], back.CertificateKeys);
    }
}
