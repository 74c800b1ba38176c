using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal control of a CMP transaction (same key and activation as <see cref="ICmpTransactionGrain"/>): the
/// confirm-timeout reminder, approvals, nested inner messages and diagnostics.
/// </summary>
[Alias("CmpCluster.ITransactionControlGrain")]
public interface ITransactionControlGrain : IGrainWithStringKey
{
    /// <summary>
    /// An inner message of a nested message whose outer protection by a trusted RA verified (RFC 9810 §5.1.3.4): the
    /// engine alone may say that an RA vouched for a message, so this is not on the gateway-facing interface.
    /// </summary>
    [Alias("HandleNested")]
    Task<byte[]> HandleNestedAsync(CmpRequest request);

    /// <summary>Revokes what is still unconfirmed once the confirm wait time has passed (the reminder calls it).</summary>
    [Alias("ExpireIfDue")]
    Task ExpireIfDueAsync();

    [Alias("GetSnapshot")]
    Task<TransactionSnapshot> GetSnapshotAsync();

    /// <summary>
    /// An operator's decision on a request that waits for approval (profile <c>RequireApproval</c>); the client learns it
    /// at its next pollReq. False when the transaction is not waiting for approval.
    /// </summary>
    [Alias("DecideApproval")]
    Task<bool> DecideApprovalAsync(bool approve, string approver);
}

/// <summary>Silo-internal. The requests that wait for an operator's approval (one list per cluster, key <see cref="GrainKeys.Approvals"/>).</summary>
[Alias("CmpCluster.IApprovalQueueGrain")]
public interface IApprovalQueueGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(PendingApproval approval);

    [Alias("Remove")]
    Task RemoveAsync(string transactionKey);

    [Alias("List")]
    Task<IReadOnlyList<PendingApproval>> ListAsync();
}
