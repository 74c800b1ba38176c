namespace CmpCluster.Contracts;

/// <summary>
/// Gateway-facing. Answers requests that cannot be routed to a transaction (no usable transactionID) with a signed error,
/// built and signed on the silo.
/// </summary>
[Alias("CmpCluster.ICmpRejectionGrain")]
public interface ICmpRejectionGrain : IGrainWithStringKey
{
    [Alias("Reject")]
    Task<byte[]> RejectAsync(CmpRequest request);
}
