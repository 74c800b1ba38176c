using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Envelope;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway;

/// <summary>What the transport layer should answer: a DER CMP message (HTTP 200) or a transport fault.</summary>
public readonly record struct DispatchResult(int StatusCode, byte[]? Body, string? Reason)
{
    public static DispatchResult Cmp(byte[] body) => new(200, body, null);
    public static DispatchResult Fault(int status, string reason) => new(status, null, reason);
}

/// <summary>
/// Transport-independent routing of one CMP message (HTTP and, later, TCP share it): bounds, DER envelope,
/// routing key, grain call. Holds no keys and never decodes more than the header needs.
/// </summary>
public sealed class CmpDispatcher(IGrainFactory grains, IOptionsMonitor<CmpOptions> options)
{
    public bool IsKnownAlias(string alias) => options.CurrentValue.Aliases.ContainsKey(alias);

    public int MaxMessageBytes => options.CurrentValue.Limits.MaxMessageBytes;

    public async Task<DispatchResult> DispatchAsync(string alias, byte[] der)
    {
        CmpLimits limits = options.CurrentValue.Limits;
        // EJBCA's CMP error table: "The received request did not contain a DER object" → HTTP 400. Too deep is still a
        // well-formed DER object: the silo answers it with a CMP badRequest.
        EnvelopeFault fault = DerEnvelope.Check(der, limits.MaxDerDepth);
        if (fault is EnvelopeFault.NotDer or EnvelopeFault.TrailingBytes)
        {
            return DispatchResult.Fault(400, fault == EnvelopeFault.NotDer ? "body is not DER" : "bytes follow the DER message");
        }
        var request = new CmpRequest(alias, der);
        byte[]? transactionId = fault == EnvelopeFault.None ? DerEnvelope.TryReadTransactionId(der) : null;
        if (transactionId is null or { Length: < 16 or > 64 })
        {
            return DispatchResult.Cmp(await grains.GetGrain<ICmpRejectionGrain>(alias).RejectAsync(request));
        }
        ICmpTransactionGrain transaction = grains.GetGrain<ICmpTransactionGrain>(GrainKeys.Transaction(alias, transactionId));
        return DispatchResult.Cmp(await transaction.HandleAsync(request));
    }
}
