using CmpCluster.Contracts;
using Org.BouncyCastle.Asn1.Cmp;

namespace CmpCluster.Protocol.Messages;

/// <summary>The inner messages of a nested message (RFC 9810 §5.1.3.4), bounded by Cmp:Limits:MaxNestedMessages.</summary>
public static class NestedContent
{
    public static PkiMessage[] Inner(DecodedRequest request, Configuration.CmpLimits limits)
    {
        PkiMessage[] inner;
        try
        {
            inner = PkiMessages.GetInstance(request.Message.Body.Content).ToPkiMessageArray();
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "nested content is not a sequence of PKIMessages");
        }
        if (inner.Length == 0 || inner.Length > limits.MaxNestedMessages)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, $"a nested message carries 1 to {limits.MaxNestedMessages} messages");
        }
        return inner;
    }
}
