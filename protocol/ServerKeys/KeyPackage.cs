using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cms;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using CmsAttribute = Org.BouncyCastle.Asn1.Cms.Attribute;
using IssuerAndSerialNumber = Org.BouncyCastle.Asn1.Cms.IssuerAndSerialNumber;
using SignerInfo = Org.BouncyCastle.Asn1.Cms.SignerInfo;
using SignedData = Org.BouncyCastle.Asn1.Cms.SignedData;
using ContentInfo = Org.BouncyCastle.Asn1.Cms.ContentInfo;

namespace CmpCluster.Protocol.ServerKeys;

/// <summary>Who can open a key package: how the requester authenticated decides it (RFC 9483 §4.1.6).</summary>
public abstract record KeyRecipient
{
    private KeyRecipient()
    {
    }

    /// <summary>
    /// A MAC-protected request: PasswordRecipientInfo keyed with the same shared secret (RFC 9483 §4.1.6.3), as the
    /// key-encryption key PBKDF2-HMAC-SHA256 derived from it with <paramref name="Salt"/> and <paramref name="Iterations"/>
    /// (RFC 9481 §4.4.1): whoever holds the secret derives it, so a client-mode end entity's code never leaves its grain.
    /// </summary>
    public sealed record Password(byte[] Salt, int Iterations, byte[] KeyEncryptionKey) : KeyRecipient
    {
        /// <summary>A fresh salt for deriving the key-encryption key from the secret.</summary>
        public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(16);

        /// <summary>The key-encryption key for <paramref name="secret"/> (PBKDF2-HMAC-SHA256, 32 bytes for AES-256).</summary>
        public static byte[] DeriveKey(byte[] secret, byte[] salt, int iterations = KeyPackage.PasswordIterations) =>
            Rfc2898DeriveBytes.Pbkdf2(secret, salt, iterations, HashAlgorithmName.SHA256, 32);

        public static Password FromSecret(byte[] secret)
        {
            byte[] salt = NewSalt();
            return new Password(salt, KeyPackage.PasswordIterations, DeriveKey(secret, salt));
        }
    }

    /// <summary>
    /// A signature-protected request: the key of its protection certificate, by key transport for RSA (§4.1.6.2) or
    /// key agreement for EC (§4.1.6.1).
    /// </summary>
    public sealed record Certificate(X509CertificateStructure Value) : KeyRecipient;
}

/// <summary>
/// The key generation authority that signs a key package (RFC 9483 §4.1.6): its certificate, its chain for the
/// SignedData's certificates, and a signing function over bytes it built itself.
/// </summary>
public sealed record KeyGenerationAuthority(
    X509CertificateStructure Certificate, AlgorithmIdentifier SignatureAlgorithm, Func<byte[], byte[]> Sign, IReadOnlyList<X509CertificateStructure> Chain);

/// <summary>
/// A server-generated private key for the response's CertifiedKeyPair.privateKey (RFC 9810 §5.2.2 EncryptedKey,
/// RFC 9483 §4.1.6): the key as an AsymmetricKeyPackage (RFC 5958), in a SignedData the key generation authority signs
/// (RFC 5652 §5), in an EnvelopedData (RFC 5652 §6) only the requester opens. Algorithms per RFC 9481: AES-256-CBC
/// content encryption (§5); RSA key transport with rsaEncryption (§4.2); ECDH key agreement with
/// dhSinglePass-stdDH-sha256kdf-scheme and AES-256 key wrap (§4.1.1, §4.3); password-based with PBKDF2 and
/// HMAC-SHA256 (§4.4.1) and the RFC 3211 AES-256-CBC key wrap, which is what OpenSSL's and BouncyCastle's CMS read.
/// </summary>
public static class KeyPackage
{
    /// <summary>id-ct-KP-aKeyPackage (RFC 5958 §3).</summary>
    public static readonly DerObjectIdentifier AsymmetricKeyPackage = new("2.16.840.1.101.2.1.2.78.5");

    /// <summary>id-alg-PWRI-KEK (RFC 3211 §2.3).</summary>
    public static readonly DerObjectIdentifier PasswordKeyWrap = new("1.2.840.113549.1.9.16.3.9");

    /// <summary>dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753 §7.1.4, SEC 1).</summary>
    public static readonly DerObjectIdentifier EcdhSha256Kdf = new("1.3.132.1.11.1");

    /// <summary>PBKDF2 iterations for a PasswordRecipientInfo: above what RFC 8018 §4.2 asks, cheap next to generating the key.</summary>
    public const int PasswordIterations = 10_000;

    /// <summary>The EnvelopedData holding the signed AsymmetricKeyPackage with <paramref name="privateKeyInfo"/>.</summary>
    public static EnvelopedData Seal(byte[] privateKeyInfo, KeyRecipient recipient, KeyGenerationAuthority authority)
    {
        byte[] signedData = Sign(privateKeyInfo, authority);
        byte[] contentKey = RandomNumberGenerator.GetBytes(32);
        try
        {
            (byte[] encrypted, AlgorithmIdentifier contentEncryption) = Aes256Cbc(contentKey, signedData);
            CryptographicOperations.ZeroMemory(signedData);
            RecipientInfo info = recipient switch
            {
                KeyRecipient.Password password => PasswordRecipient(contentKey, password),
                KeyRecipient.Certificate { Value: var certificate } => CertificateRecipient(contentKey, certificate),
                _ => throw new ArgumentException("unknown recipient", nameof(recipient)),
            };
            var content = new EncryptedContentInfo(CmsObjectIdentifiers.SignedData, contentEncryption, new BerOctetString(encrypted));
            return new EnvelopedData(null, new DerSet(info), content, (Asn1Set?)null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(contentKey);
        }
    }

    /// <summary>AES-256-CBC with PKCS#7 padding and a fresh IV (RFC 9481 §5, RFC 3565 §2.3.1): the ciphertext and its algorithm identifier.</summary>
    private static (byte[] Ciphertext, AlgorithmIdentifier Algorithm) Aes256Cbc(byte[] key, byte[] plaintext)
    {
        byte[] iv = RandomNumberGenerator.GetBytes(16);
        using var aes = Aes.Create();
        aes.Key = key;
        return (aes.EncryptCbc(plaintext, iv, PaddingMode.PKCS7), new AlgorithmIdentifier(NistObjectIdentifiers.IdAes256Cbc, new DerOctetString(iv)));
    }

    /// <summary>
    /// SignedData (RFC 5652 §5) over the AsymmetricKeyPackage (SEQUENCE OF OneAsymmetricKey, RFC 5958 §2), signed
    /// attributes contentType and messageDigest, signer by issuer and serial number.
    /// </summary>
    private static byte[] Sign(byte[] privateKeyInfo, KeyGenerationAuthority authority)
    {
        var package = new DerSequence(PrivateKeyInfo.GetInstance(Asn1Object.FromByteArray(privateKeyInfo)));
        byte[] packageDer = package.GetEncoded(Asn1Encodable.Der);
        (AlgorithmIdentifier digestAlgorithm, HashAlgorithmName hash) = DigestOf(authority.SignatureAlgorithm);
        var signedAttributes = new DerSet(
            new CmsAttribute(CmsAttributes.ContentType, new DerSet(AsymmetricKeyPackage)),
            new CmsAttribute(CmsAttributes.MessageDigest, new DerSet(new DerOctetString(CryptographicOperations.HashData(hash, packageDer)))));
        // RFC 5652 §5.4: the signature is over the DER of the signed attributes as a SET OF.
        byte[] signature = authority.Sign(signedAttributes.GetEncoded(Asn1Encodable.Der));
        var signer = new SignerInfo(
            new SignerIdentifier(new IssuerAndSerialNumber(authority.Certificate.Issuer, authority.Certificate.SerialNumber)),
            digestAlgorithm, signedAttributes, authority.SignatureAlgorithm, new DerOctetString(signature), (Asn1Set?)null);
        var certificates = new DerSet(new Asn1Encodable[] { authority.Certificate }.Concat(authority.Chain).ToArray());
        var signedData = new SignedData(new DerSet(digestAlgorithm), new ContentInfo(AsymmetricKeyPackage, new DerOctetString(packageDer)),
            certificates, null, new DerSet(signer));
        try
        {
            return signedData.GetEncoded(Asn1Encodable.Der);
        }
        finally
        {
            // The structures above hold this array, not a copy: wiped only once encoded.
            CryptographicOperations.ZeroMemory(packageDer);
        }
    }

    /// <summary>The digest of the signer's signature algorithm (RFC 5754 §2, §3).</summary>
    private static (AlgorithmIdentifier, HashAlgorithmName) DigestOf(AlgorithmIdentifier signatureAlgorithm) => signatureAlgorithm.Algorithm switch
    {
        var oid when oid.Equals(X9ObjectIdentifiers.ECDsaWithSha384) || oid.Equals(PkcsObjectIdentifiers.Sha384WithRsaEncryption) =>
            (new AlgorithmIdentifier(NistObjectIdentifiers.IdSha384), HashAlgorithmName.SHA384),
        var oid when oid.Equals(X9ObjectIdentifiers.ECDsaWithSha512) || oid.Equals(PkcsObjectIdentifiers.Sha512WithRsaEncryption) =>
            (new AlgorithmIdentifier(NistObjectIdentifiers.IdSha512), HashAlgorithmName.SHA512),
        _ => (new AlgorithmIdentifier(NistObjectIdentifiers.IdSha256), HashAlgorithmName.SHA256),
    };

    /// <summary>
    /// pwri (RFC 5652 §6.2.4): the key-encryption key is PBKDF2-HMAC-SHA256 of the shared secret (RFC 9481 §4.4.1); the
    /// content key is wrapped with id-alg-PWRI-KEK over AES-256-CBC (RFC 3211 §2.3).
    /// </summary>
    private static RecipientInfo PasswordRecipient(byte[] contentKey, KeyRecipient.Password password)
    {
        byte[] iv = RandomNumberGenerator.GetBytes(16);
        var wrapper = new Rfc3211WrapEngine(new AesEngine());
        wrapper.Init(true, new ParametersWithRandom(new ParametersWithIV(new KeyParameter(password.KeyEncryptionKey), iv), new SecureRandom()));
        byte[] wrapped = wrapper.Wrap(contentKey, 0, contentKey.Length);
        var derivation = new AlgorithmIdentifier(PkcsObjectIdentifiers.IdPbkdf2,
            new Pbkdf2Params(password.Salt, password.Iterations, new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance)));
        var keyEncryption = new AlgorithmIdentifier(PasswordKeyWrap, new AlgorithmIdentifier(NistObjectIdentifiers.IdAes256Cbc, new DerOctetString(iv)));
        return new RecipientInfo(new PasswordRecipientInfo(derivation, keyEncryption, new DerOctetString(wrapped)));
    }

    /// <summary>ktri for an RSA certificate, kari for an EC one; the recipient named by issuer and serial number.</summary>
    private static RecipientInfo CertificateRecipient(byte[] contentKey, X509CertificateStructure certificate)
    {
        var recipientId = new IssuerAndSerialNumber(certificate.Issuer, certificate.SerialNumber);
        byte[] spki = certificate.SubjectPublicKeyInfo.GetEncoded(Asn1Encodable.Der);
        DerObjectIdentifier type = certificate.SubjectPublicKeyInfo.Algorithm.Algorithm;
        if (type.Equals(PkcsObjectIdentifiers.RsaEncryption))
        {
            using var rsa = RSA.Create();
            rsa.ImportSubjectPublicKeyInfo(spki, out _);
            byte[] encrypted = rsa.Encrypt(contentKey, RSAEncryptionPadding.Pkcs1);
            return new RecipientInfo(new KeyTransRecipientInfo(new RecipientIdentifier(recipientId),
                new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance), new DerOctetString(encrypted)));
        }
        if (type.Equals(X9ObjectIdentifiers.IdECPublicKey))
        {
            return KeyAgreement(contentKey, spki, recipientId);
        }
        throw CannotReceive();
    }

    /// <summary>Whether a key can be sealed to <paramref name="certificate"/>: an RSA key transports it, an EC key agrees it.</summary>
    public static bool CanReceive(X509CertificateStructure certificate) =>
        certificate.SubjectPublicKeyInfo.Algorithm.Algorithm.Equals(PkcsObjectIdentifiers.RsaEncryption)
        || certificate.SubjectPublicKeyInfo.Algorithm.Algorithm.Equals(X9ObjectIdentifiers.IdECPublicKey);

    /// <summary>The refusal for a recipient certificate whose key can do neither (badRequest).</summary>
    public static CmpFailureException CannotReceive() => new(Contracts.PkiFailureInfo.BadRequest,
        "the protection certificate's key can neither transport nor agree a key (RSA or EC needed) for the server-generated key");

    /// <summary>
    /// kari (RFC 5652 §6.2.2, RFC 5753 §3.1): an ephemeral key on the recipient's curve; the key-encryption key is the ANSI
    /// X9.63 KDF with SHA-256 over the shared secret and ECC-CMS-SharedInfo (RFC 5753 §7.2), which wraps the content key
    /// with AES-256 key wrap (RFC 3394).
    /// </summary>
    private static RecipientInfo KeyAgreement(byte[] contentKey, byte[] recipientSpki, IssuerAndSerialNumber recipientId)
    {
        using var recipient = ECDiffieHellman.Create();
        recipient.ImportSubjectPublicKeyInfo(recipientSpki, out _);
        using var ephemeral = ECDiffieHellman.Create(recipient.ExportParameters(false).Curve);
        byte[] shared = ephemeral.DeriveRawSecretAgreement(recipient.PublicKey);
        // The wrap algorithm with NULL parameters: BouncyCastle puts NULL in the KDF's ECC-CMS-SharedInfo whatever the message
        // says, OpenSSL takes the message's own; with NULL here both derive the same key.
        var wrap = new AlgorithmIdentifier(NistObjectIdentifiers.IdAes256Wrap, DerNull.Instance);
        // ECC-CMS-SharedInfo: keyInfo, no entityUInfo (no ukm), suppPubInfo = the key-encryption key's length in bits.
        byte[] sharedInfo = new DerSequence(wrap, new DerTaggedObject(true, 2, new DerOctetString([0, 0, 1, 0]))).GetEncoded(Asn1Encodable.Der);
        byte[] kek = SHA256.HashData([.. shared, 0, 0, 0, 1, .. sharedInfo]);
        try
        {
            var wrapper = new AesWrapEngine();
            wrapper.Init(true, new KeyParameter(kek));
            byte[] wrapped = wrapper.Wrap(contentKey, 0, contentKey.Length);
            ECParameters point = ephemeral.ExportParameters(false);
            byte[] encodedPoint = [0x04, .. point.Q.X!, .. point.Q.Y!];
            // RFC 5753 §3.1.1: originatorKey with id-ecPublicKey; the curve is the recipient's.
            var originator = new OriginatorIdentifierOrKey(new OriginatorPublicKey(
                new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, DerNull.Instance), encodedPoint));
            var encryptedKey = new RecipientEncryptedKey(new KeyAgreeRecipientIdentifier(recipientId), new DerOctetString(wrapped));
            return new RecipientInfo(new KeyAgreeRecipientInfo(originator, null, new AlgorithmIdentifier(EcdhSha256Kdf, wrap), new DerSequence(encryptedKey)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
            CryptographicOperations.ZeroMemory(kek);
        }
    }

    /// <summary>
    /// The legacy form (RFC 4211 §2.1 EncryptedValue, as EJBCA's CMP documentation describes it): the PrivateKeyInfo
    /// encrypted with a fresh AES-256 key, which is encrypted (rsaEncryption) to the request's id-regCtrl-protocolEncrKey
    /// (RFC 4211 §6.6). Unsigned, as that form is.
    /// </summary>
    public static Org.BouncyCastle.Asn1.Crmf.EncryptedValue EncryptedValue(byte[] privateKeyInfo, AlgorithmIdentifier keyAlgorithm, SubjectPublicKeyInfo protocolEncrKey)
    {
        if (!protocolEncrKey.Algorithm.Algorithm.Equals(PkcsObjectIdentifiers.RsaEncryption))
        {
            throw new CmpFailureException(Contracts.PkiFailureInfo.BadRequest, "protocolEncrKey must be an RSA key to receive the key as EncryptedValue");
        }
        byte[] symmetricKey = RandomNumberGenerator.GetBytes(32);
        try
        {
            (byte[] encrypted, AlgorithmIdentifier symmetricAlgorithm) = Aes256Cbc(symmetricKey, privateKeyInfo);
            using var rsa = RSA.Create();
            rsa.ImportSubjectPublicKeyInfo(protocolEncrKey.GetEncoded(Asn1Encodable.Der), out _);
            byte[] encryptedKey = rsa.Encrypt(symmetricKey, RSAEncryptionPadding.Pkcs1);
            return new Org.BouncyCastle.Asn1.Crmf.EncryptedValue(keyAlgorithm, symmetricAlgorithm, new DerBitString(encryptedKey),
                new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance), null, new DerBitString(encrypted));
        }
        catch (CryptographicException)
        {
            throw new CmpFailureException(Contracts.PkiFailureInfo.BadRequest, "protocolEncrKey is not a usable RSA public key");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(symmetricKey);
        }
    }
}
