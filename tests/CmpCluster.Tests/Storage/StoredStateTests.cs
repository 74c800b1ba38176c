using CmpCluster.Grains.Storage;
using Orleans.Storage;
using Xunit;

namespace CmpCluster.Tests.Storage;

/// <summary>
/// The state the hot grains read and write straight through their store (grains/Storage/StoredState.cs) keeps the
/// contract of Orleans' injected persistent state: RecordExists only once read, the store's ETag carried, an ETag conflict
/// as it is, any other store failure wrapped in an OrleansException. A throwing store is the one fault a real store does
/// not produce on demand, hence the stand-in.
/// </summary>
public sealed class StoredStateTests
{
    private sealed class Counter
    {
        public int Value { get; set; }
    }

    private sealed class DictionaryStore(Exception? failure = null) : IGrainStorage
    {
        public readonly Dictionary<string, (int Value, string ETag)> Rows = [];

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (failure is not null)
            {
                throw failure;
            }
            if (Rows.TryGetValue(stateName + grainId, out var row))
            {
                ((Counter)(object)grainState.State!).Value = row.Value;
                (grainState.ETag, grainState.RecordExists) = (row.ETag, true);
            }
            return Task.CompletedTask;
        }

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            await Task.Yield();
            if (failure is not null)
            {
                throw failure;
            }
            string etag = Guid.NewGuid().ToString("N");
            Rows[stateName + grainId] = (((Counter)(object)grainState.State!).Value, etag);
            (grainState.ETag, grainState.RecordExists) = (etag, true);
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            Rows.Remove(stateName + grainId);
            (grainState.ETag, grainState.RecordExists, grainState.State) = (null, false, default!);
            return Task.CompletedTask;
        }
    }

    private static readonly GrainId Grain = GrainId.Create("probe", "one");

    [Fact]
    public async Task Reads_writes_and_clears_through_the_store_with_its_etag()
    {
        var store = new DictionaryStore();
        var state = new StoredState<Counter>(store, "counter", Grain);
        Assert.Throws<InvalidOperationException>(() => state.RecordExists);
        await state.ReadStateAsync();
        Assert.False(state.RecordExists);
        Assert.Equal(0, state.State.Value);

        state.State.Value = 7;
        await state.WriteStateAsync();
        var again = new StoredState<Counter>(store, "counter", Grain);
        await again.ReadStateAsync();
        Assert.True(again.RecordExists);
        Assert.Equal(7, again.State.Value);
        Assert.Equal(state.Etag, again.Etag);

        await again.ClearStateAsync();
        Assert.False(again.RecordExists);
        Assert.Equal(0, again.State.Value);
        Assert.Empty(store.Rows);
    }

    [Fact]
    public async Task An_etag_conflict_arrives_as_it_is_and_any_other_store_failure_wrapped()
    {
        var conflict = new InconsistentStateException("stale etag");
        var thrown = await Assert.ThrowsAsync<InconsistentStateException>(() => new StoredState<Counter>(new DictionaryStore(conflict), "counter", Grain).WriteStateAsync());
        Assert.Same(conflict, thrown);

        var disk = new IOException("disk full");
        var wrapped = await Assert.ThrowsAsync<OrleansException>(() => new StoredState<Counter>(new DictionaryStore(disk), "counter", Grain).WriteStateAsync());
        Assert.Same(disk, wrapped.InnerException);
        var onRead = await Assert.ThrowsAsync<OrleansException>(() => new StoredState<Counter>(new DictionaryStore(disk), "counter", Grain).ReadStateAsync());
        Assert.Same(disk, onRead.InnerException);
    }
}
