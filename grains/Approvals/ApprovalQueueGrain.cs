using CmpCluster.Contracts;

namespace CmpCluster.Grains.Approvals;

[GenerateSerializer]
[Alias("CmpCluster.ApprovalQueueState")]
public sealed class ApprovalQueueState
{
    [Id(0)] public Dictionary<string, PendingApproval> Pending { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The requests waiting for an operator (profile RequireApproval). A list for the admin API only: the transaction grain
/// holds the request and the decision, so a lost entry here never loses or grants a request.
/// </summary>
public sealed class ApprovalQueueGrain(
    [PersistentState("approvals", GrainNames.Storage)] IPersistentState<ApprovalQueueState> state) : Grain, IApprovalQueueGrain
{
    /// <summary>Bound on the list; an operator with more pending requests than this has a process problem, not a UI one.</summary>
    private const int MaxListed = 10_000;

    public async Task AddAsync(PendingApproval approval)
    {
        if (state.State.Pending.Count < MaxListed && state.State.Pending.TryAdd(approval.TransactionKey, approval))
        {
            await state.WriteStateAsync();
        }
    }

    public async Task RemoveAsync(string transactionKey)
    {
        if (state.State.Pending.Remove(transactionKey))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<IReadOnlyList<PendingApproval>> ListAsync() =>
        Task.FromResult<IReadOnlyList<PendingApproval>>(state.State.Pending.Values.OrderBy(p => p.RequestedAt).ToArray());
}
