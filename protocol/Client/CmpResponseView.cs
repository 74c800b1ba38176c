using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Client;

/// <summary>The parts of a CMP response that tests and load runs assert on.</summary>
public sealed class CmpResponseView
{
    private CmpResponseView(PkiMessage message)
    {
        Message = message;
        BodyType = (PkiBodyType)message.Body.Type;
        TransactionId = message.Header.TransactionID?.GetOctets();
        SenderNonce = message.Header.SenderNonce?.GetOctets();
        RecipNonce = message.Header.RecipNonce?.GetOctets();
        ImplicitConfirmGranted = message.Header.GetGeneralInfo()?.Any(i => i.InfoType.Equals(CmpObjectIdentifiers.it_implicitConfirm)) ?? false;
        switch (message.Body.Content)
        {
            case ErrorMsgContent error:
                Status = error.PkiStatusInfo;
                break;
            case PkiMessages nested:
                Inner = nested.ToPkiMessageArray().Select(m => new CmpResponseView(m)).ToArray();
                break;
            case PollRepContent poll:
                PollCheckAfter = poll.Count > 0 ? poll.GetCheckAfter(0).IntValueExact : null;
                break;
            case GenRepContent general:
                GeneralInfo = general.ToInfoTypeAndValueArray();
                break;
            case RevRepContent revocation:
                Status = revocation.GetStatus().FirstOrDefault();
                break;
            case CertRepMessage rep:
                CertResponse response = rep.GetResponse()[0];
                Status = response.Status;
                CertificateDer = response.CertifiedKeyPair?.CertOrEncCert.Certificate?.X509v3PKCert?.GetEncoded(Asn1Encodable.Der);
                PrivateKey = response.CertifiedKeyPair?.PrivateKey;
                CaPubs = rep.GetCAPubs()?.Select(c => c.X509v3PKCert.GetEncoded(Asn1Encodable.Der)).ToArray() ?? [];
                break;
        }
    }

    public PkiMessage Message { get; }
    public PkiBodyType BodyType { get; }
    public byte[]? TransactionId { get; }
    public byte[]? SenderNonce { get; }
    public byte[]? RecipNonce { get; }
    public bool ImplicitConfirmGranted { get; }
    public PkiStatusInfo? Status { get; }
    public byte[]? CertificateDer { get; }
    public byte[][] CaPubs { get; } = [];

    /// <summary>A server-generated private key (RFC 9483 §4.1.6), encrypted to this client: EnvelopedData, or the legacy EncryptedValue.</summary>
    public Org.BouncyCastle.Asn1.Crmf.EncryptedKey? PrivateKey { get; }

    /// <summary>pvno of the response header (RFC 9810 §5.1.1): 3 when it carries EnvelopedData (RFC 9480 §2.20).</summary>
    public int Pvno => Message.Header.Pvno.IntValueExact;

    /// <summary>nested: the inner responses, in order.</summary>
    public IReadOnlyList<CmpResponseView> Inner { get; } = [];

    /// <summary>pollRep: seconds to wait before the next pollReq.</summary>
    public int? PollCheckAfter { get; }

    /// <summary>genp: the InfoTypeAndValue answers.</summary>
    public InfoTypeAndValue[] GeneralInfo { get; } = [];

    /// <summary>The failInfo bits that are set, as our enum (RFC 9810 §5.2.3).</summary>
    public IReadOnlyList<PkiFailureInfo> FailInfo
    {
        get
        {
            DerBitString? bits = Status?.FailInfo;
            if (bits is null)
            {
                return [];
            }
            byte[] bytes = bits.GetBytes();
            var set = new List<PkiFailureInfo>();
            for (int bit = 0; bit < bytes.Length * 8; bit++)
            {
                if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
                {
                    set.Add((PkiFailureInfo)bit);
                }
            }
            return set;
        }
    }

    public IReadOnlyList<byte[]> ExtraCerts => Message.GetExtraCerts()?.Select(c => c.X509v3PKCert.GetEncoded(Asn1Encodable.Der)).ToArray() ?? [];

    /// <summary>True when the response is signed and the signature verifies with <paramref name="signerCertificateDer"/>.</summary>
    public bool VerifySignature(byte[] signerCertificateDer)
    {
        var signer = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(signerCertificateDer));
        byte[] protectedPart = new ProtectedPart(Message.Header, Message.Body).GetEncoded(Asn1Encodable.Der);
        return Message.Header.ProtectionAlg is { } algorithm
            && SignatureVerifier.Verify(signer.SubjectPublicKeyInfo, algorithm, protectedPart, Message.Protection.GetOctets());
    }

    public static CmpResponseView Parse(byte[] der) => new(PkiMessage.GetInstance(Asn1Object.FromByteArray(der)));
}
