using CmpCluster.Grains.Internal;

namespace CmpCluster.Grains.Pki;

[GenerateSerializer]
[Alias("CmpCluster.CaStatusState")]
public sealed class CaStatusState
{
    [Id(0)] public bool Disabled { get; set; }
    [Id(1)] public string? ChangedBy { get; set; }
    [Id(2)] public DateTimeOffset? ChangedAt { get; set; }
}

/// <summary>One CA's enabled flag, stored (grain storage <see cref="GrainNames.Storage"/>) so every silo and every restart sees it.</summary>
public sealed class CaStatusGrain(
    [PersistentState("status", GrainNames.Storage)] IPersistentState<CaStatusState> state, TimeProvider time) : Grain, ICaStatusGrain
{
    public Task<bool> IsEnabledAsync() => Task.FromResult(!state.State.Disabled);

    public async Task SetEnabledAsync(bool enabled, string actor)
    {
        if (state.State.Disabled == !enabled)
        {
            return;
        }
        state.State.Disabled = !enabled;
        state.State.ChangedBy = actor;
        state.State.ChangedAt = time.GetUtcNow();
        await state.WriteStateAsync();
    }
}
