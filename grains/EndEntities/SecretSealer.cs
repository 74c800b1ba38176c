using System.Security.Cryptography;
using System.Text;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.EndEntities;

/// <summary>
/// Seals enrollment codes at rest with AES-256-GCM under a key derived once per process from the CA key passphrase
/// (PBKDF2-SHA256), bound to the username as associated data: the grain store holds no usable code, and a sealed
/// code copied to another end entity does not open. Changing Pki:Passphrase makes stored codes unusable (reset them).
/// </summary>
public sealed class SecretSealer
{
    private const string Prefix = "sealed:v1:";
    private static readonly byte[] Salt = "CmpCluster end-entity secrets v1"u8.ToArray();
    private readonly byte[] _key;

    public SecretSealer(IOptions<PkiOptions> pki)
    {
        string passphrase = string.IsNullOrEmpty(pki.Value.Passphrase) ? PkiOptions.DevelopmentPassphrase : pki.Value.Passphrase;
        _key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), Salt, 200_000, HashAlgorithmName.SHA256, 32);
    }

    public string Seal(string secret, string username)
    {
        byte[] plain = Encoding.UTF8.GetBytes(secret);
        byte[] sealedBytes = new byte[12 + 16 + plain.Length];
        Span<byte> nonce = sealedBytes.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, 16);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), Encoding.UTF8.GetBytes(username));
        return Prefix + Convert.ToBase64String(sealedBytes);
    }

    /// <summary>The code, or null when it was sealed under another key or for another end entity.</summary>
    public string? Unseal(string sealedSecret, string username)
    {
        if (!sealedSecret.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        byte[] sealedBytes = Convert.FromBase64String(sealedSecret[Prefix.Length..]);
        if (sealedBytes.Length < 28)
        {
            return null;
        }
        byte[] plain = new byte[sealedBytes.Length - 28];
        using var aes = new AesGcm(_key, 16);
        try
        {
            aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plain, Encoding.UTF8.GetBytes(username));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return Encoding.UTF8.GetString(plain);
    }
}
