using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Protocol.Protection;

/// <summary>
/// Two operations every enrollment repeats, called straight into the system's OpenSSL 3 (libcrypto.so.3) because .NET's
/// wrappers cost several times the work itself (docs/BENCHMARKS.md, "crypto overheads"):
/// <list type="bullet">
/// <item>PasswordBasedMac's iterated SHA-256 (RFC 4211 §4.4, 500 iterations from OpenSSL clients): through
/// <see cref="IncrementalHash"/> each iteration pays two P/Invokes, a SafeHandle and an OpenSSL error-queue clear;
/// here one SHA-256 block per iteration on a stack context.</item>
/// <item>ECDSA verification of a public key that arrives in the request (POP, RFC 4211 §4.1; signature protection):
/// .NET imports the key with <c>EC_KEY_check_key</c>, a full scalar multiplication, and OpenSSL 3's generic key
/// decoder is as slow; here the point is decoded onto the named curve (which checks that it lies on the curve) and
/// verified with <c>ECDSA_verify</c>.</item>
/// </list>
/// Both are optional accelerations with identical results: when the library or a symbol is missing (another OS, an
/// OpenSSL built without the low-level API) or the input is outside what this class handles, the caller uses .NET.
/// Setting the environment variable <c>CMP_OPENSSL_DIRECT=0</c> turns them off.
/// </summary>
public static unsafe class OpenSslDirect
{
    private const int Sha256ContextBytes = 128; // SHA256_CTX is 112 bytes in OpenSSL 3; rounded up
    private const int NidP256 = 415, NidP384 = 715, NidP521 = 716;

    private static readonly Exports? Functions = Load();

    /// <summary>Whether the direct calls are in use on this machine.</summary>
    public static bool Available => Functions is not null;

    /// <summary>
    /// basekey = SHA-256(secret || salt), then SHA-256 of the previous output until the function ran
    /// <paramref name="iterations"/> times in all (RFC 4211 §4.4). False when not available: use the .NET path.
    /// </summary>
    public static bool TryIterateSha256(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> salt, int iterations, Span<byte> digest)
    {
        if (Functions is not { } f || iterations < 1 || digest.Length < 32)
        {
            return false;
        }
        byte* context = stackalloc byte[Sha256ContextBytes];
        fixed (byte* secretBytes = secret)
        fixed (byte* saltBytes = salt)
        fixed (byte* output = digest)
        {
            bool ok = f.Sha256Init(context) == 1
                && f.Sha256Update(context, secretBytes, (nuint)secret.Length) == 1
                && f.Sha256Update(context, saltBytes, (nuint)salt.Length) == 1
                && f.Sha256Final(output, context) == 1;
            for (int i = 1; ok && i < iterations; i++)
            {
                ok = f.Sha256Init(context) == 1 && f.Sha256Update(context, output, 32) == 1 && f.Sha256Final(output, context) == 1;
            }
            new Span<byte>(context, Sha256ContextBytes).Clear();
            if (!ok)
            {
                f.ErrClearError();
            }
            return ok;
        }
    }

    /// <summary>
    /// Verifies a DER ECDSA signature (RFC 3279 §2.2.3) over <paramref name="data"/> hashed with <paramref name="hash"/>
    /// by an EC key on P-256, P-384 or P-521 given as a named curve. Null when this class does not handle the key or is
    /// not available (the caller verifies through .NET); otherwise whether the signature is valid.
    /// </summary>
    public static bool? TryVerifyEcdsa(SubjectPublicKeyInfo publicKey, HashAlgorithmName hash, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (Functions is not { } f || !publicKey.Algorithm.Algorithm.Equals(X9ObjectIdentifiers.IdECPublicKey)
            || publicKey.Algorithm.Parameters is not DerObjectIdentifier curve || CurveNid(curve) is not { } nid)
        {
            return null;
        }
        Span<byte> digest = stackalloc byte[64];
        int digestLength = hash == HashAlgorithmName.SHA256 ? SHA256.HashData(data, digest)
            : hash == HashAlgorithmName.SHA384 ? SHA384.HashData(data, digest)
            : hash == HashAlgorithmName.SHA512 ? SHA512.HashData(data, digest)
            : -1;
        if (digestLength < 0)
        {
            return null;
        }
        if (publicKey.PublicKey.PadBits != 0)
        {
            return false; // an EC point is whole octets (RFC 5480 §2.2); GetOctets would throw
        }
        byte[] point = publicKey.PublicKey.GetOctets();
        IntPtr key = f.EcKeyNewByCurveName(nid);
        if (key == IntPtr.Zero)
        {
            f.ErrClearError();
            return null;
        }
        try
        {
            fixed (byte* pointBytes = point)
            fixed (byte* digestBytes = digest)
            fixed (byte* signatureBytes = signature)
            {
                // o2i_ECPublicKey decodes the point onto the key's curve and refuses one that is not on it.
                byte* cursor = pointBytes;
                if (point.Length == 0 || f.O2iEcPublicKey(&key, &cursor, point.Length) == IntPtr.Zero)
                {
                    f.ErrClearError();
                    return false;
                }
                int result = f.EcdsaVerify(0, digestBytes, digestLength, signatureBytes, signature.Length, key);
                if (result != 1)
                {
                    f.ErrClearError();
                }
                return result == 1;
            }
        }
        finally
        {
            f.EcKeyFree(key);
        }
    }

    private static int? CurveNid(DerObjectIdentifier curve) =>
        curve.Equals(SecObjectIdentifiers.SecP256r1) ? NidP256
        : curve.Equals(SecObjectIdentifiers.SecP384r1) ? NidP384
        : curve.Equals(SecObjectIdentifiers.SecP521r1) ? NidP521
        : null;

    private sealed class Exports
    {
        // Short, non-blocking calls on small buffers: no GC transition needed.
        public delegate* unmanaged[SuppressGCTransition]<byte*, int> Sha256Init;
        public delegate* unmanaged[SuppressGCTransition]<byte*, byte*, nuint, int> Sha256Update;
        public delegate* unmanaged[SuppressGCTransition]<byte*, byte*, int> Sha256Final;
        public delegate* unmanaged<int, IntPtr> EcKeyNewByCurveName;
        public delegate* unmanaged<IntPtr*, byte**, long, IntPtr> O2iEcPublicKey;
        public delegate* unmanaged<int, byte*, int, byte*, int, IntPtr, int> EcdsaVerify;
        public delegate* unmanaged<IntPtr, void> EcKeyFree;
        public delegate* unmanaged<void> ErrClearError;
    }

    private static Exports? Load()
    {
        if (Environment.GetEnvironmentVariable("CMP_OPENSSL_DIRECT") == "0" || !OperatingSystem.IsLinux()
            || !NativeLibrary.TryLoad("libcrypto.so.3", out IntPtr library))
        {
            return null;
        }
        IntPtr Export(string name) => NativeLibrary.TryGetExport(library, name, out IntPtr address) ? address : IntPtr.Zero;
        IntPtr[] addresses =
        [
            Export("SHA256_Init"), Export("SHA256_Update"), Export("SHA256_Final"), Export("EC_KEY_new_by_curve_name"),
            Export("o2i_ECPublicKey"), Export("ECDSA_verify"), Export("EC_KEY_free"), Export("ERR_clear_error"),
        ];
        if (addresses.Any(a => a == IntPtr.Zero))
        {
            return null;
        }
        return new Exports
        {
            Sha256Init = (delegate* unmanaged[SuppressGCTransition]<byte*, int>)addresses[0],
            Sha256Update = (delegate* unmanaged[SuppressGCTransition]<byte*, byte*, nuint, int>)addresses[1],
            Sha256Final = (delegate* unmanaged[SuppressGCTransition]<byte*, byte*, int>)addresses[2],
            EcKeyNewByCurveName = (delegate* unmanaged<int, IntPtr>)addresses[3],
            O2iEcPublicKey = (delegate* unmanaged<IntPtr*, byte**, long, IntPtr>)addresses[4],
            EcdsaVerify = (delegate* unmanaged<int, byte*, int, byte*, int, IntPtr, int>)addresses[5],
            EcKeyFree = (delegate* unmanaged<IntPtr, void>)addresses[6],
            ErrClearError = (delegate* unmanaged<void>)addresses[7],
        };
    }
}
