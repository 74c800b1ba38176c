using CmpCluster.Contracts;
using CmpCluster.Grains.Handlers;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// nested, RFC 9810 §5.1.3.4 and RFC 9483 §5.2.2 (EJBCA's CMP documentation, "Multiprotection Support"): an RA's signed envelope around one or
/// more messages. Each inner message goes to its own transaction grain, as if it had come alone, told that a trusted RA
/// vouched for it; the answers come back in one nested response, in the same order. A batch is answered in full (EJBCA
/// answers only the first).
/// </summary>
public sealed partial class CmpTransactionGrain
{
    private async Task<Decision> NestedAsync(DecodedRequest request)
    {
        PkiMessage[] inner = NestedContent.Inner(request, options.CurrentValue.Limits);
        string aliasName = TransactionKey[..TransactionKey.IndexOf('/')];
        byte[][] answers = await Task.WhenAll(inner.Select(message => AnswerInnerAsync(aliasName, message, request.TransactionId)));
        Advance(TransactionEvent.NestedAnswered);
        return new NestedReply(answers);
    }

    /// <summary>
    /// One inner message, answered by its own transaction. Nesting is one level deep (an inner nested message is refused),
    /// and an inner message may not reuse the outer transactionID (its grain is this one, busy with the envelope).
    /// </summary>
    private Task<byte[]> AnswerInnerAsync(string aliasName, PkiMessage message, byte[]? outerTransactionId)
    {
        var innerRequest = new CmpRequest(aliasName, message.GetEncoded(Asn1Encodable.Der));
        byte[]? transactionId = message.Header.TransactionID?.GetOctets();
        bool routable = transactionId is { Length: >= 16 and <= 64 }
            && message.Body.Type != PkiBody.TYPE_NESTED
            && !(outerTransactionId is not null && transactionId.AsSpan().SequenceEqual(outerTransactionId));
        return routable
            ? GrainFactory.GetGrain<ITransactionControlGrain>(GrainKeys.Transaction(aliasName, transactionId!)).HandleNestedAsync(innerRequest)
            : GrainFactory.GetGrain<ICmpRejectionGrain>(aliasName).RejectAsync(innerRequest);
    }
}
