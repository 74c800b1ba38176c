using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;
using X509Certificate = Org.BouncyCastle.X509.X509Certificate;

namespace CmpCluster.Tests.Grains;

/// <summary>The invariants every CMP answer must keep, stated once (RFC 9810 §5.1.1, RFC 9483 §3).</summary>
public static class ProtocolAssert
{
    /// <summary>The response belongs to our transaction and answers our last request: transactionID echoed, recipNonce = our senderNonce.</summary>
    public static void AnswersLastRequest(CmpResponseView view, CmpClientSession session) =>
        Answers(view, session.TransactionId, session.LastSenderNonce);

    public static void Answers(CmpResponseView view, byte[] transactionId, byte[] requestSenderNonce)
    {
        Assert.Equal(transactionId, view.TransactionId);
        Assert.Equal(requestSenderNonce, view.RecipNonce);
        Assert.NotNull(view.SenderNonce);
        Assert.True(view.SenderNonce!.Length >= 16, "senderNonce carries at least 128 bits (RFC 9483 §3.1)");
    }

    /// <summary>An error message (RFC 9810 §5.3.21) with status rejection and exactly the expected failInfo bit.</summary>
    public static void Rejected(CmpResponseView view, PkiFailureInfo expected)
    {
        Assert.Equal(PkiBodyType.Error, view.BodyType);
        Assert.NotNull(view.Status);
        Assert.Equal((int)PkiStatus.Rejection, view.Status!.Status.IntValueExact);
        Assert.Equal(new[] { expected }, view.FailInfo);
    }

    /// <summary>A certificate response of the given type whose one CertResponse is granted and carries a certificate.</summary>
    public static byte[] Granted(CmpResponseView view, PkiBodyType expected)
    {
        Assert.Equal(expected, view.BodyType);
        Assert.NotNull(view.Status);
        Assert.Equal((int)PkiStatus.Granted, view.Status!.Status.IntValueExact);
        Assert.Empty(view.FailInfo);
        Assert.NotNull(view.CertificateDer);
        return view.CertificateDer!;
    }

    /// <summary>The certificate names the issuing CA as issuer and its signature verifies with the CA's public key.</summary>
    public static X509Certificate IssuedBy(byte[] certificateDer, CertificateAuthorityKeys ca)
    {
        var certificate = new X509Certificate(certificateDer);
        var issuing = new X509Certificate(ca.Ca.CertificateDer);
        Assert.True(certificate.IssuerDN.Equivalent(issuing.SubjectDN), $"issuer is {certificate.IssuerDN}");
        certificate.Verify(issuing.GetPublicKey()); // throws when the signature does not verify
        // ...and the issuing CA chains to the root of caPubs.
        issuing.Verify(new X509Certificate(ca.Root).GetPublicKey());
        return certificate;
    }

    /// <summary>Subject and public key are the ones the template asked for.</summary>
    public static void Certifies(X509Certificate certificate, X509Name subject, byte[] subjectPublicKeyInfo)
    {
        Assert.True(certificate.SubjectDN.Equivalent(subject), $"subject is {certificate.SubjectDN}");
        Assert.Equal(subjectPublicKeyInfo, certificate.CertificateStructure.SubjectPublicKeyInfo.GetEncoded("DER"));
    }
}

/// <summary>Assertions on rp (RFC 9483 §4.2): one PKIStatusInfo, accepted or rejected with one failInfo bit.</summary>
public static class RevocationAssert
{
    public static void Granted(CmpResponseView view)
    {
        Assert.Equal(PkiBodyType.Rp, view.BodyType);
        Assert.Equal((int)PkiStatus.Granted, view.Status!.Status.IntValueExact);
        Assert.Empty(view.FailInfo);
    }

    public static void Rejected(CmpResponseView view, PkiFailureInfo expected)
    {
        Assert.Equal(PkiBodyType.Rp, view.BodyType);
        Assert.Equal((int)PkiStatus.Rejection, view.Status!.Status.IntValueExact);
        Assert.Equal(new[] { expected }, view.FailInfo);
    }
}
