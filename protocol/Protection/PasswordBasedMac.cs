using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Iana;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Protection;

/// <summary>
/// MAC-based protection with a shared secret, in its two forms: PasswordBasedMac (RFC 4211 §4.4, profiled by RFC 9481
/// §6.1.1) and PBMAC1 (RFC 8018 §7.1 with PBKDF2, profiled by RFC 9481 §6.1.2). This is the one place that decides whether
/// a protectionAlg is MAC protection (<see cref="IsPasswordBasedMac"/>), checks its parameters against the limits and
/// derives its key. One instance holds the key derived from one secret and one set of parameters, so a response protected
/// with the request's parameters reuses it.
/// </summary>
public sealed class PasswordBasedMac
{
    private readonly byte[] _key;
    private readonly HashAlgorithmName _mac;

    private PasswordBasedMac(AlgorithmIdentifier algorithm, byte[] key, HashAlgorithmName mac)
    {
        Algorithm = algorithm;
        _key = key;
        _mac = mac;
    }

    /// <summary>The derived key, to hand a verified MAC to the engine that protects the response (never the secret).</summary>
    public byte[] ExportKey() => _key.ToArray();

    /// <summary>Rebuilds a MAC from a key derived elsewhere (<see cref="ExportKey"/>) for the same parameters.</summary>
    public static PasswordBasedMac FromDerivedKey(AlgorithmIdentifier algorithm, byte[] key)
    {
        DerObjectIdentifier macOid = algorithm.Algorithm.Equals(IdPbmac1)
            ? AlgorithmIdentifier.GetInstance(Asn1Sequence.GetInstance(algorithm.Parameters)[1]).Algorithm
            : PbmParameter.GetInstance(algorithm.Parameters).Mac.Algorithm;
        HashAlgorithmName mac = MacFunction(macOid)
            ?? throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM MAC algorithm is not supported");
        return new PasswordBasedMac(algorithm, key, mac);
    }

    /// <summary>id-PBMAC1, RFC 8018 Appendix A.5.</summary>
    public static readonly DerObjectIdentifier IdPbmac1 = PkcsObjectIdentifiers.IdPbmac1;

    /// <summary>The protectionAlg this key was derived for: reused verbatim in responses.</summary>
    public AlgorithmIdentifier Algorithm { get; }

    /// <summary>Whether the protectionAlg is MAC protection with a shared secret: PasswordBasedMac or PBMAC1.</summary>
    public static bool IsPasswordBasedMac(AlgorithmIdentifier? algorithm) =>
        algorithm is not null && (algorithm.Algorithm.Equals(CmpObjectIdentifiers.passwordBasedMac) || algorithm.Algorithm.Equals(IdPbmac1));

    /// <summary>
    /// Checks the parameters against the limits, then derives the key. PasswordBasedMac: basekey = H(secret || salt),
    /// iterated so that the one-way function runs iterationCount times in all. PBMAC1: PBKDF2 with its PRF.
    /// </summary>
    public static PasswordBasedMac Derive(AlgorithmIdentifier algorithm, ReadOnlySpan<byte> secret, CmpLimits limits)
    {
        MacParameters parameters = Check(algorithm, limits);
        if (parameters.Pbkdf2)
        {
            // RFC 8018 §5.2; .NET runs it in OpenSSL (PKCS5_PBKDF2_HMAC).
            byte[] key = Rfc2898DeriveBytes.Pbkdf2(secret, parameters.Salt, parameters.Iterations, parameters.Hash, parameters.KeyLength);
            return new PasswordBasedMac(algorithm, key, parameters.Mac);
        }
        Span<byte> digest = stackalloc byte[64];
        // SHA-256, the one-way function of OpenSSL's and RFC 9481 §6.1.1's default: straight into libcrypto where it can
        // (about 8x cheaper, see OpenSslDirect); the same bytes either way.
        if (parameters.Hash == HashAlgorithmName.SHA256 && OpenSslDirect.TryIterateSha256(secret, parameters.Salt, parameters.Iterations, digest))
        {
            return new PasswordBasedMac(algorithm, digest[..32].ToArray(), parameters.Mac);
        }
        return new PasswordBasedMac(algorithm, IterateManaged(parameters.Hash, secret, parameters.Salt, parameters.Iterations, digest), parameters.Mac);
    }

    /// <summary>The one-way function iterated through .NET: any of the allowed digests.</summary>
    public static byte[] IterateManaged(HashAlgorithmName owf, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> salt, int iterations, Span<byte> digest)
    {
        // One incremental hash object for all iterations: a one-shot hash per iteration costs about four times as much
        // (each call sets up an OpenSSL digest context), which made PBM the largest CPU cost of a transaction.
        using var hash = IncrementalHash.CreateHash(owf);
        hash.AppendData(secret);
        hash.AppendData(salt);
        int length = hash.GetHashAndReset(digest);
        for (int i = 1; i < iterations; i++)
        {
            hash.AppendData(digest[..length]);
            hash.GetHashAndReset(digest);
        }
        return digest[..length].ToArray();
    }

    /// <summary>
    /// What <see cref="Check"/> read: for PasswordBasedMac, <see cref="Hash"/> is the one-way function; for PBMAC1
    /// (<see cref="Pbkdf2"/>), the hash of PBKDF2's HMAC PRF, and <see cref="KeyLength"/> the derived key's length.
    /// </summary>
    public sealed record MacParameters(bool Pbkdf2, byte[] Salt, int Iterations, HashAlgorithmName Hash, HashAlgorithmName Mac, int KeyLength);

    /// <summary>
    /// The parameter floors and ceilings (RFC 9481 §6.1.1 and §6.1.2, RFC 9483 §3.2), without hashing anything: salt
    /// length, iteration count, and the one-way function (PBMAC1: PBKDF2's PRF) and MAC among those the limits allow; the
    /// same bounds for both schemes. Out-of-bounds counts and salts are badMessageCheck; an algorithm that is not allowed
    /// is badAlg. Callers that hand the derivation to another grain call this first, so an alias's floors hold before any work.
    /// </summary>
    public static MacParameters Check(AlgorithmIdentifier algorithm, CmpLimits limits)
    {
        if (algorithm.Algorithm.Equals(IdPbmac1))
        {
            return CheckPbmac1(algorithm, limits);
        }
        PbmParameter? parameters;
        try
        {
            parameters = PbmParameter.GetInstance(algorithm.Parameters);
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM parameters are malformed");
        }
        if (parameters is null)
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM parameters are missing");
        }
        byte[] salt = CheckSalt(parameters.Salt.GetOctets(), limits);
        int iterations = CheckIterations(parameters.IterationCount.Value, limits);
        HashAlgorithmName owf = DigestAlgorithms.ByOid(parameters.Owf.Algorithm) is { } known && limits.PbmOneWayFunctions.Contains(known.Name!, StringComparer.OrdinalIgnoreCase)
            ? known
            : throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBM one-way function is not supported or not allowed");
        HashAlgorithmName mac = AllowedMac(parameters.Mac.Algorithm, limits, "PBM MAC algorithm");
        return new MacParameters(false, salt, iterations, owf, mac, 0);
    }

    /// <summary>
    /// PBMAC1-params (RFC 8018 §A.5): keyDerivationFunc id-PBKDF2 with PBKDF2-params (salt given as OCTET STRING,
    /// iterationCount, keyLength, prf: an HMAC the limits allow; RFC 9481 §6.1.2 names HMAC-SHA256), and messageAuthScheme
    /// an HMAC the limits allow. keyLength absent: the MAC's output length.
    /// </summary>
    private static MacParameters CheckPbmac1(AlgorithmIdentifier algorithm, CmpLimits limits)
    {
        AlgorithmIdentifier derivation;
        AlgorithmIdentifier scheme;
        Pbkdf2Params pbkdf2;
        try
        {
            Asn1Sequence sequence = Asn1Sequence.GetInstance(algorithm.Parameters)
                ?? throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBMAC1 parameters are missing");
            if (sequence.Count != 2)
            {
                throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBMAC1 parameters are malformed");
            }
            derivation = AlgorithmIdentifier.GetInstance(sequence[0]);
            scheme = AlgorithmIdentifier.GetInstance(sequence[1]);
            if (!derivation.Algorithm.Equals(PkcsObjectIdentifiers.IdPbkdf2))
            {
                throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBMAC1 key derivation must be PBKDF2");
            }
            pbkdf2 = Pbkdf2Params.GetInstance(derivation.Parameters)
                ?? throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBKDF2 parameters are missing");
            _ = pbkdf2.GetSalt();
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or InvalidOperationException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "PBMAC1 parameters are malformed");
        }
        byte[] salt = CheckSalt(pbkdf2.GetSalt(), limits);
        int iterations = CheckIterations(pbkdf2.IterationCount, limits);
        HashAlgorithmName prf = AllowedMac(pbkdf2.Prf.Algorithm, limits, "PBKDF2 PRF");
        HashAlgorithmName mac = AllowedMac(scheme.Algorithm, limits, "PBMAC1 MAC algorithm");
        int keyLength = pbkdf2.KeyLength is null ? HashLength(mac)
            : pbkdf2.KeyLength.BitLength <= 8 && pbkdf2.KeyLength.IntValue is >= 16 and <= 64 ? pbkdf2.KeyLength.IntValue
            : throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBKDF2 keyLength is out of bounds (16 to 64 bytes)");
        return new MacParameters(true, salt, iterations, prf, mac, keyLength);
    }

    private static byte[] CheckSalt(byte[] salt, CmpLimits limits) => salt.Length >= limits.MinPbmSaltBytes && salt.Length <= 1024
        ? salt
        : throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBM salt length is out of bounds");

    private static int CheckIterations(Org.BouncyCastle.Math.BigInteger count, CmpLimits limits)
    {
        int iterations = count.BitLength > 31 ? int.MaxValue : count.IntValueExact;
        return iterations >= limits.MinPbmIterations && iterations <= limits.MaxPbmIterations
            ? iterations
            : throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "PBM iteration count is out of bounds");
    }

    private static HashAlgorithmName AllowedMac(DerObjectIdentifier oid, CmpLimits limits, string what) =>
        MacFunction(oid) is { } hmac && limits.PbmMacAlgorithms.Contains("HMAC-" + hmac.Name, StringComparer.OrdinalIgnoreCase)
            ? hmac
            : throw new CmpFailureException(PkiFailureInfo.BadAlg, $"{what} is not supported or not allowed");

    private static int HashLength(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA1 ? 20 : hash == HashAlgorithmName.SHA384 ? 48 : hash == HashAlgorithmName.SHA512 ? 64 : 32;

    /// <summary>PBMAC1 parameters for a new protection (RFC 9481 §6.1.2): PBKDF2 with HMAC-SHA256, then HMAC-SHA256.</summary>
    public static AlgorithmIdentifier NewPbmac1Algorithm(int iterations = 10_000, int saltBytes = 16)
    {
        var hmacSha256 = new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance);
        var pbkdf2 = new Pbkdf2Params(RandomNumberGenerator.GetBytes(saltBytes), iterations, 32, hmacSha256);
        return new AlgorithmIdentifier(IdPbmac1, new DerSequence(new AlgorithmIdentifier(PkcsObjectIdentifiers.IdPbkdf2, pbkdf2), hmacSha256));
    }

    /// <summary>Builds parameters for a new protection (client side, or a server that starts a MAC exchange).</summary>
    public static AlgorithmIdentifier NewAlgorithm(int iterations = 10_000, int saltBytes = 16)
    {
        var parameters = new PbmParameter(
            RandomNumberGenerator.GetBytes(saltBytes),
            new AlgorithmIdentifier(NistObjectIdentifiers.IdSha256),
            iterations,
            new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance));
        return new AlgorithmIdentifier(CmpObjectIdentifiers.passwordBasedMac, parameters);
    }

    public byte[] Compute(ReadOnlySpan<byte> protectedPart)
    {
        using var hmac = IncrementalHash.CreateHMAC(_mac, _key);
        hmac.AppendData(protectedPart);
        return hmac.GetHashAndReset();
    }

    /// <summary>Constant-time comparison of the received protection with our MAC.</summary>
    public bool Verify(ReadOnlySpan<byte> protectedPart, ReadOnlySpan<byte> protection) =>
        CryptographicOperations.FixedTimeEquals(Compute(protectedPart), protection);

    private static HashAlgorithmName? MacFunction(DerObjectIdentifier oid)
    {
        // hmac-sha1 has two registered OIDs (RFC 3370 / IPsec); OpenSSL 3.0 sends 1.3.6.1.5.5.8.1.2 by default.
        if (oid.Equals(IanaObjectIdentifiers.HmacSha1) || oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha1)) return HashAlgorithmName.SHA1;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha256)) return HashAlgorithmName.SHA256;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha384)) return HashAlgorithmName.SHA384;
        if (oid.Equals(PkcsObjectIdentifiers.IdHmacWithSha512)) return HashAlgorithmName.SHA512;
        return null;
    }
}
