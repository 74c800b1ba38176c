using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Envelope;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Pkcs;
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

    /// <summary>
    /// ir / cr / kur: the CertReqMessages (RFC 4211 §3), read once here; p10cr: one CertReqMsg made from the PKCS#10 request
    /// (certReqId -1, no POP: the request's signature is, see <see cref="Pkcs10"/>); empty for other bodies.
    /// </summary>
    public IReadOnlyList<CertReqMsg> CertRequests { get; private set; } = [];

    /// <summary>p10cr (RFC 9483 §4.1.4): the PKCS#10 certification request (RFC 2986) as received.</summary>
    public CertificationRequest? Pkcs10 { get; private set; }

    /// <summary>certConf: the CertStatus entries (RFC 9810 §5.3.18).</summary>
    public IReadOnlyList<CertStatus> CertStatuses { get; private set; } = [];

    /// <summary>rr: the RevDetails entries (RFC 9810 §5.3.9).</summary>
    public IReadOnlyList<RevDetails> Revocations { get; private set; } = [];

    /// <summary>genm: the InfoTypeAndValue entries of the body (RFC 9810 §5.3.19).</summary>
    public IReadOnlyList<InfoTypeAndValue> InfoRequests { get; private set; } = [];

    /// <summary>pollReq: the certReqIds polled (RFC 9810 §5.3.22).</summary>
    public IReadOnlyList<Org.BouncyCastle.Math.BigInteger> PollIds { get; private set; } = [];

    /// <summary>The exact received bytes of ProtectedPart (RFC 9810 §5.1.3).</summary>
    public byte[] ProtectedPart() => DerEnvelope.ProtectedPart(Der);

    /// <summary>
    /// Decodes a PKIMessage. Structural faults (not DER, too deep, trailing bytes) and anything BouncyCastle
    /// cannot read as a PKIMessage become <c>badRequest</c> (EJBCA's CMP error table: "could not be parsed to a CMP message").
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
        DecodedRequest decoded;
        try
        {
            message = PkiMessage.GetInstance(Asn1Object.FromByteArray(der));
            // Touch the lazily parsed parts so malformed content fails here, not deep inside a handler.
            _ = message.Header.Pvno;
            _ = message.Body.Content;
            _ = message.GetExtraCerts();
            // RFC 9810 §5.1.3: protection holds whole octets (a MAC or signature value); GetOctets refuses pad bits.
            _ = message.Protection?.GetOctets();
            // BouncyCastle parses the elements of a SEQUENCE OF on first access: walk what the engine and handlers read
            // (RFC 9810 §5.1.1 generalInfo, then the body).
            foreach (InfoTypeAndValue info in message.Header.GetGeneralInfo() ?? [])
            {
                _ = info.InfoType;
            }
            decoded = new DecodedRequest(message, der);
            decoded.ReadBody();
            // The engine DER-encodes parts of the request again: the sender as the response's recipient (RFC 9810
            // §5.1.1), inner messages of a nested one (RFC 9810 §5.1.3.4). BouncyCastle parses SETs it cannot sort for DER
            // (fuzz/regressions/request/header-sender-set-not-der-encodable-invalidoperation.der): find out here.
            _ = message.GetEncoded(Asn1Encodable.Der);
        }
        // IndexOutOfRangeException: BouncyCastle's PollRepContent indexes an empty element unchecked
        // (fuzz/regressions/request/pollrep-empty-element-indexoutofrange.der).
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IOException or InvalidOperationException or FormatException
            or IndexOutOfRangeException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "message is not a PKIMessage");
        }
        return decoded;
    }

    /// <summary>
    /// Reads the request body once, into the typed lists the handlers take, down to the fields they read (found by
    /// fuzzing, fuzz/regressions/request): a malformed element is badRequest here, not an internal error inside a handler.
    /// Values a handler interprets itself (control values, extension values, InfoTypeAndValue values) are left to it.
    /// </summary>
    private void ReadBody()
    {
        PkiBody body = Message.Body;
        switch (body.Type)
        {
            case PkiBody.TYPE_INIT_REQ or PkiBody.TYPE_CERT_REQ or PkiBody.TYPE_KEY_UPDATE_REQ:
                // RFC 4211 §3 CertReqMessages.
                CertRequests = CertReqMessages.GetInstance(body.Content).ToCertReqMsgArray();
                foreach (CertReqMsg request in CertRequests)
                {
                    TouchCertReqMsg(request);
                }
                break;
            case PkiBody.TYPE_P10_CERT_REQ:
                // RFC 9483 §4.1.4: a PKCS#10 request whose signature is the POP; it becomes a template like any other.
                Pkcs10 = CertificationRequest.GetInstance(body.Content);
                _ = Pkcs10.SignatureAlgorithm.Algorithm;
                _ = Pkcs10.Signature.GetOctets();
                CertRequests = [Pkcs10Template(Pkcs10.GetCertificationRequestInfo())];
                TouchCertReqMsg(CertRequests[0]);
                break;
            case PkiBody.TYPE_CERT_CONFIRM:
                // RFC 9810 §5.3.18 CertConfirmContent.
                CertStatuses = CertConfirmContent.GetInstance(body.Content).ToCertStatusArray();
                foreach (CertStatus status in CertStatuses)
                {
                    _ = status.CertHash;
                    _ = status.CertReqID;
                    _ = status.HashAlg;
                    _ = status.StatusInfo?.Status;
                    _ = status.StatusInfo?.StatusString;
                    _ = status.StatusInfo?.FailInfo;
                }
                break;
            case PkiBody.TYPE_REVOCATION_REQ:
                // RFC 9810 §5.3.9 RevReqContent.
                Revocations = RevReqContent.GetInstance(body.Content).ToRevDetailsArray();
                foreach (RevDetails details in Revocations)
                {
                    TouchTemplate(details.CertDetails);
                    TouchExtensions(details.CrlEntryDetails);
                }
                break;
            case PkiBody.TYPE_GEN_MSG:
                // RFC 9810 §5.3.19 GenMsgContent.
                InfoRequests = GenMsgContent.GetInstance(body.Content).ToInfoTypeAndValueArray();
                foreach (InfoTypeAndValue item in InfoRequests)
                {
                    _ = item.InfoType;
                    _ = item.InfoValue;
                }
                break;
            case PkiBody.TYPE_POLL_REQ:
                // RFC 9810 §5.3.22 PollReqContent.
                PollIds = PollReqContent.GetInstance(body.Content).GetCertReqIDValues();
                break;
        }
    }

    /// <summary>The certReqId of a p10cr's certificate, in the cp and in certConf (RFC 9483 §4.1.4).</summary>
    public const long Pkcs10CertReqId = -1;

    /// <summary>
    /// A PKCS#10 request as a CertReqMsg: subject, public key and the extensions of its extensionRequest attribute
    /// (PKCS#9, RFC 2985 §5.4.2); other attributes are not requests for the certificate and are left out.
    /// </summary>
    private static CertReqMsg Pkcs10Template(CertificationRequestInfo info)
    {
        var template = new CertTemplateBuilder()
            .SetSubject(info.Subject)
            .SetSubjectPublicKeyInfo(info.SubjectPublicKeyInfo);
        foreach (Asn1Encodable element in info.Attributes ?? new DerSet())
        {
            var attribute = AttributePkcs.GetInstance(element);
            if (attribute.AttrType.Equals(PkcsObjectIdentifiers.Pkcs9AtExtensionRequest))
            {
                template.SetExtensions(X509Extensions.GetInstance(attribute.AttrValues[0]));
            }
        }
        return new CertReqMsg(new CertRequest(DerInteger.ValueOf(Pkcs10CertReqId), template.Build(), null), null, null);
    }

    private static void TouchCertReqMsg(CertReqMsg message)
    {
        CertRequest request = message.CertReq;
        _ = request.CertReqID;
        TouchTemplate(request.CertTemplate);
        foreach (AttributeTypeAndValue control in request.Controls?.ToAttributeTypeAndValueArray() ?? [])
        {
            _ = control.Type;
            _ = control.Value;
        }
        // RFC 4211 §4.1: the signature POP PopVerifier checks.
        if (message.Pop is { Type: ProofOfPossession.TYPE_SIGNING_KEY } pop)
        {
            PopoSigningKey signing = PopoSigningKey.GetInstance(pop.Object);
            _ = signing.AlgorithmIdentifier;
            _ = signing.Signature.GetOctets();
            _ = signing.PoposkInput?.PublicKey;
            _ = signing.PoposkInput?.Sender;
            _ = signing.PoposkInput?.PublicKeyMac;
        }
    }

    /// <summary>RFC 4211 §5 CertTemplate: every optional field, names read as text as the handlers do.</summary>
    private static void TouchTemplate(CertTemplate template)
    {
        _ = template.SerialNumber;
        _ = template.SigningAlg;
        _ = template.Issuer?.ToString();
        _ = template.Validity?.NotBefore;
        _ = template.Validity?.NotAfter;
        _ = template.Subject?.ToString();
        _ = template.PublicKey;
        _ = template.IssuerUID;
        _ = template.SubjectUID;
        TouchExtensions(template.Extensions);
    }

    private static void TouchExtensions(X509Extensions? extensions)
    {
        foreach (DerObjectIdentifier oid in extensions?.GetExtensionOids() ?? [])
        {
            _ = extensions!.GetExtension(oid).Value;
        }
    }

    private static bool HasGeneralInfo(PkiHeader header, DerObjectIdentifier type)
    {
        InfoTypeAndValue[]? infos = header.GetGeneralInfo();
        return infos is not null && infos.Any(i => i.InfoType.Equals(type));
    }
}
