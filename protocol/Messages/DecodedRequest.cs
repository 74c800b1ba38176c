using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Envelope;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Messages;

/// <summary>
/// A request PKIMessage decoded within limits, with the header fields the engine needs lifted out.
/// Lives inside one grain call; never stored, never sent across a grain boundary.
/// </summary>
public sealed class DecodedRequest
{
    private DecodedRequest(PkiMessage message, byte[] der)
    {
        Message = message;
        Der = der;
        Header = message.Header;
        BodyType = (PkiBodyType)message.Body.Type;
        TransactionId = Header.TransactionID?.GetOctets();
        SenderNonce = Header.SenderNonce?.GetOctets();
        RecipNonce = Header.RecipNonce?.GetOctets();
        SenderKid = Header.SenderKID?.GetOctets();
        ImplicitConfirmRequested = HasGeneralInfo(Header, CmpObjectIdentifiers.it_implicitConfirm);
    }

    public PkiMessage Message { get; }
    public byte[] Der { get; }
    public PkiHeader Header { get; }
    public PkiBodyType BodyType { get; }
    public byte[]? TransactionId { get; }
    public byte[]? SenderNonce { get; }
    public byte[]? RecipNonce { get; }
    public byte[]? SenderKid { get; }
    public bool ImplicitConfirmRequested { get; }
    /// <summary>pvno, or -1 when it does not fit an int (then no version we speak).</summary>
    public int Pvno => Header.Pvno.Value.BitLength < 31 ? Header.Pvno.IntValueExact : -1;
    public AlgorithmIdentifier? ProtectionAlg => Header.ProtectionAlg;

    /// <summary>The exact received bytes of ProtectedPart (RFC 9810 §5.1.3).</summary>
    public byte[] ProtectedPart() => DerEnvelope.ProtectedPart(Der);

    /// <summary>
    /// Decodes a PKIMessage. Structural faults (not DER, too deep, trailing bytes) and anything BouncyCastle
    /// cannot read as a PKIMessage become <c>badRequest</c> (seed error table: "could not be parsed to a CMP message").
    /// </summary>
    public static DecodedRequest Decode(byte[] der, CmpLimits limits)
    {
        EnvelopeFault fault = DerEnvelope.Check(der, limits.MaxDerDepth);
        if (fault != EnvelopeFault.None)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, fault switch
            {
                EnvelopeFault.TooDeep => "message nesting exceeds the limit",
                EnvelopeFault.TrailingBytes => "bytes follow the PKIMessage",
                _ => "message is not DER",
            });
        }
        PkiMessage message;
        try
        {
            message = PkiMessage.GetInstance(Asn1Object.FromByteArray(der));
            // Touch the lazily parsed parts so malformed content fails here, not deep inside a handler.
            _ = message.Header.Pvno;
            _ = message.Body.Content;
            _ = message.GetExtraCerts();
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IOException or InvalidOperationException or FormatException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "message is not a PKIMessage");
        }
        return new DecodedRequest(message, der);
    }

    private static bool HasGeneralInfo(PkiHeader header, DerObjectIdentifier type)
    {
        InfoTypeAndValue[]? infos = header.GetGeneralInfo();
        return infos is not null && infos.Any(i => i.InfoType.Equals(type));
    }
}
