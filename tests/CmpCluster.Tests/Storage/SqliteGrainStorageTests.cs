using CmpCluster.Silo.Storage;
using Microsoft.Data.Sqlite;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Xunit;

namespace CmpCluster.Tests.Storage;

[GenerateSerializer]
public sealed record PlayerState(
    [property: Id(0)] string Name,
    [property: Id(1)] int Score,
    [property: Id(2)] DateTimeOffset UpdatedAt,
    [property: Id(3)] string[] Tags);

public sealed class SqliteGrainStorageTests : IDisposable
{
    private const string StateName = "player";
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SqliteGrainStorage NewStorage(string kind = "json", string name = "Default") =>
        new(name, _dir.Options(), StorageServices.Serializer(kind), StorageServices.Activators);

    private static GrainId Grain(string key) => GrainId.Create("player", key);

    private static PlayerState Sample(int score) =>
        new("ada", score, new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), ["a", "b"]);

    [Theory]
    [InlineData("json")]
    [InlineData("orleans")]
    [InlineData("pooled")]
    public async Task Write_then_read_from_a_fresh_instance_round_trips(string serializer)
    {
        var grain = Grain("round-trip");
        var written = new GrainState<PlayerState>(Sample(42));
        using (var storage = NewStorage(serializer))
        {
            await storage.WriteStateAsync(StateName, grain, written);
            Assert.True(written.RecordExists);
            Assert.NotNull(written.ETag);
        }

        // The first instance released the file; this is a cold open, like a silo restart.
        using var reopened = NewStorage(serializer);
        var read = new GrainState<PlayerState>();
        await reopened.ReadStateAsync(StateName, grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.NotNull(read.State);
        Assert.Equal(written.State!.Name, read.State.Name);
        Assert.Equal(written.State.Score, read.State.Score);
        Assert.Equal(written.State.UpdatedAt, read.State.UpdatedAt);
        Assert.Equal(written.State.Tags, read.State.Tags);
    }

    [Fact]
    public async Task Reading_a_missing_record_leaves_a_default_state()
    {
        using var storage = NewStorage();
        var state = new GrainState<PlayerState> { ETag = "stale" };
        await storage.ReadStateAsync(StateName, Grain("nobody"), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.NotNull(state.State);
    }

    [Fact]
    public async Task Every_write_bumps_the_etag()
    {
        using var storage = NewStorage();
        var state = new GrainState<PlayerState>(Sample(1));
        await storage.WriteStateAsync(StateName, Grain("bump"), state);
        long first = long.Parse(state.ETag!);
        await storage.WriteStateAsync(StateName, Grain("bump"), state);
        await storage.WriteStateAsync(StateName, Grain("bump"), state);
        Assert.Equal(first + 2, long.Parse(state.ETag!));
    }

    [Fact]
    public async Task Writing_with_a_stale_etag_throws()
    {
        using var storage = NewStorage();
        var grain = Grain("stale");
        var first = new GrainState<PlayerState>(Sample(1));
        await storage.WriteStateAsync(StateName, grain, first);

        // A second activation reads and writes, moving the stored version on.
        var second = new GrainState<PlayerState>();
        await storage.ReadStateAsync(StateName, grain, second);
        second.State = Sample(2);
        await storage.WriteStateAsync(StateName, grain, second);

        first.State = Sample(3);
        string? presented = first.ETag;
        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grain, first));
        Assert.Equal(second.ETag, error.StoredEtag);
        Assert.Equal(presented, error.CurrentEtag);

        // The rejected write changed nothing.
        var check = new GrainState<PlayerState>();
        await storage.ReadStateAsync(StateName, grain, check);
        Assert.Equal(2, check.State!.Score);
    }

    [Fact]
    public async Task Inserting_over_an_existing_record_throws()
    {
        using var storage = NewStorage();
        var grain = Grain("insert-twice");
        await storage.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(1)));

        // ETag null means "I believe nothing is stored": wrong here.
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(2))));
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(2), "not-a-version")));
    }

    [Fact]
    public async Task Clear_removes_the_record_and_resets_the_etag()
    {
        using var storage = NewStorage();
        var grain = Grain("clear");
        var state = new GrainState<PlayerState>(Sample(7));
        await storage.WriteStateAsync(StateName, grain, state);
        var beforeClear = state.ETag;

        await storage.ClearStateAsync(StateName, grain, state);
        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);

        var read = new GrainState<PlayerState>();
        await storage.ReadStateAsync(StateName, grain, read);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);

        // Clearing again with ETag null is a no-op, not a conflict.
        await storage.ClearStateAsync(StateName, grain, read);

        // A writer still holding the pre-clear ETag must not resurrect the record...
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(8), beforeClear)));

        // ...while a fresh insert works and does not reuse the old version number (no ABA).
        var fresh = new GrainState<PlayerState>(Sample(9));
        await storage.WriteStateAsync(StateName, grain, fresh);
        Assert.NotEqual(beforeClear, fresh.ETag);
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(10), beforeClear)));
    }

    [Fact]
    public async Task Clear_with_a_stale_etag_throws()
    {
        using var storage = NewStorage();
        var grain = Grain("clear-stale");
        var state = new GrainState<PlayerState>(Sample(1));
        await storage.WriteStateAsync(StateName, grain, state);
        var stale = new GrainState<PlayerState>(state.State, state.ETag);
        await storage.WriteStateAsync(StateName, grain, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grain, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.ClearStateAsync(StateName, grain, new GrainState<PlayerState>()));
    }

    [Fact]
    public async Task Providers_and_state_names_sharing_a_file_are_isolated()
    {
        using var a = NewStorage(name: "A");
        using var b = NewStorage(name: "B");
        var grain = Grain("shared");
        await a.WriteStateAsync(StateName, grain, new GrainState<PlayerState>(Sample(1)));

        var fromB = new GrainState<PlayerState>();
        await b.ReadStateAsync(StateName, grain, fromB);
        Assert.False(fromB.RecordExists);

        var otherState = new GrainState<PlayerState>();
        await a.ReadStateAsync("other-state", grain, otherState);
        Assert.False(otherState.RecordExists);
    }

    [Fact]
    public async Task Many_grains_writing_concurrently_all_commit()
    {
        using var storage = NewStorage();
        const int grains = 200;
        const int writesPerGrain = 5;

        var lastETags = new string?[grains];
        await Task.WhenAll(Enumerable.Range(0, grains).Select(i => Task.Run(async () =>
        {
            var state = new GrainState<PlayerState>();
            for (var n = 1; n <= writesPerGrain; n++)
            {
                state.State = Sample(i * 100 + n);
                await storage.WriteStateAsync(StateName, Grain($"g{i}"), state);
            }
            lastETags[i] = state.ETag;
        })));

        using var reopened = NewStorage(name: "Default");
        for (var i = 0; i < grains; i++)
        {
            var read = new GrainState<PlayerState>();
            await reopened.ReadStateAsync(StateName, Grain($"g{i}"), read);
            Assert.Equal(i * 100 + writesPerGrain, read.State!.Score);
            Assert.Equal(lastETags[i], read.ETag);
        }
    }

    [Fact]
    public async Task Committed_writes_survive_a_crash_that_leaves_only_the_files()
    {
        // Model of SIGKILL: the process dies with the connection open and nothing checkpointed.
        // What survives is exactly the main file plus the WAL (the shared-memory index is
        // rebuilt on open), so copy those two while the writer is still "running".
        using var crashed = new TempDataDirectory();
        using (var storage = NewStorage())
        {
            for (var i = 0; i < 50; i++)
            {
                await storage.WriteStateAsync(StateName, Grain($"crash-{i}"), new GrainState<PlayerState>(Sample(i)));
            }

            Assert.True(File.Exists(_dir.DatabasePath + "-wal"));
            File.Copy(_dir.DatabasePath, crashed.DatabasePath);
            File.Copy(_dir.DatabasePath + "-wal", crashed.DatabasePath + "-wal");
        }

        using var recovered = new SqliteGrainStorage(
            "Default", crashed.Options(), StorageServices.Serializer("json"), StorageServices.Activators);
        for (var i = 0; i < 50; i++)
        {
            var read = new GrainState<PlayerState>();
            await recovered.ReadStateAsync(StateName, Grain($"crash-{i}"), read);
            Assert.True(read.RecordExists);
            Assert.Equal(i, read.State!.Score);
        }
    }

    [Fact]
    public async Task Database_is_in_wal_mode()
    {
        using (var storage = NewStorage())
        {
            await storage.WriteStateAsync(StateName, Grain("wal"), new GrainState<PlayerState>(Sample(1)));
        }

        // journal_mode=WAL is persistent in the file, so a plain connection sees it.
        using var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar() as string);
    }
}
