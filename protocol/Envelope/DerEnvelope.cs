using System.Formats.Asn1;

namespace CmpCluster.Protocol.Envelope;

/// <summary>Why bytes are not even a well-formed DER PKIMessage envelope: a transport fault, HTTP 400.</summary>
public enum EnvelopeFault
{
    None = 0,
    NotDer,
    TooDeep,
    TrailingBytes,
}

/// <summary>
/// Structural checks on raw DER before any parser or crypto sees it: definite DER lengths, nesting depth
/// bounded, no bytes after the outer SEQUENCE. Also finds the header fields a gateway needs to route a message
/// without decoding it (RFC 9810 §5.1.1 PKIHeader: transactionID is [4]).
/// </summary>
public static class DerEnvelope
{
    /// <summary>Checks the whole TLV tree iteratively (no recursion, so hostile depth cannot exhaust the stack).</summary>
    public static EnvelopeFault Check(ReadOnlySpan<byte> der, int maxDepth)
    {
        try
        {
            Asn1Tag outer = AsnDecoder.ReadEncodedValue(der, AsnEncodingRules.DER, out _, out _, out int consumed);
            if (outer != Asn1Tag.Sequence)
            {
                return EnvelopeFault.NotDer;
            }
            if (consumed != der.Length)
            {
                return EnvelopeFault.TrailingBytes;
            }
            return CheckDepth(der, maxDepth);
        }
        catch (AsnContentException)
        {
            return EnvelopeFault.NotDer;
        }
    }

    private static EnvelopeFault CheckDepth(ReadOnlySpan<byte> der, int maxDepth)
    {
        // Each frame is the end offset of an open constructed value; the stack depth is the nesting depth.
        Span<int> ends = maxDepth <= 256 ? stackalloc int[maxDepth + 1] : new int[maxDepth + 1];
        int depth = 0;
        int position = 0;
        while (position < der.Length)
        {
            while (depth > 0 && position >= ends[depth - 1])
            {
                depth--;
            }
            // Read within the enclosing value, so a child that claims to run past its parent is not DER.
            int end = depth > 0 ? ends[depth - 1] : der.Length;
            Asn1Tag tag = AsnDecoder.ReadEncodedValue(der[position..end], AsnEncodingRules.DER, out int contentOffset, out int contentLength, out int consumed);
            if (tag.IsConstructed && contentLength > 0)
            {
                if (depth == maxDepth)
                {
                    return EnvelopeFault.TooDeep;
                }
                ends[depth++] = position + consumed;
                position += contentOffset;
            }
            else
            {
                position += consumed;
            }
        }
        return EnvelopeFault.None;
    }

    /// <summary>
    /// Reads header.transactionID from a PKIMessage that passed <see cref="Check"/>; null when absent or the
    /// structure is not a PKIMessage header.
    /// </summary>
    public static byte[]? TryReadTransactionId(ReadOnlyMemory<byte> der)
    {
        try
        {
            var message = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var header = message.ReadSequence();
            header.ReadEncodedValue(); // pvno
            header.ReadEncodedValue(); // sender
            header.ReadEncodedValue(); // recipient
            var transactionIdTag = new Asn1Tag(TagClass.ContextSpecific, 4, isConstructed: true);
            while (header.HasData)
            {
                Asn1Tag tag = header.PeekTag();
                if (tag == transactionIdTag)
                {
                    var wrapped = header.ReadSequence(transactionIdTag);
                    return wrapped.ReadOctetString();
                }
                if (tag.TagClass != TagClass.ContextSpecific || tag.TagValue > 4)
                {
                    return null;
                }
                header.ReadEncodedValue();
            }
            return null;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The exact bytes of RFC 9810 §5.1.3 ProtectedPart (SEQUENCE { header, body }) taken from the received
    /// encoding, so protection is checked over what the sender signed, not over a re-encoding.
    /// </summary>
    public static byte[] ProtectedPart(ReadOnlySpan<byte> der)
    {
        AsnDecoder.ReadEncodedValue(der, AsnEncodingRules.DER, out int contentOffset, out _, out _);
        ReadOnlySpan<byte> content = der[contentOffset..];
        AsnDecoder.ReadEncodedValue(content, AsnEncodingRules.DER, out _, out _, out int headerLength);
        AsnDecoder.ReadEncodedValue(content[headerLength..], AsnEncodingRules.DER, out _, out _, out int bodyLength);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(content[..headerLength]);
            writer.WriteEncodedValue(content.Slice(headerLength, bodyLength));
        }
        return writer.Encode();
    }
}
