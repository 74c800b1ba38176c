using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging.Abstractions;

namespace CmpCluster.Benchmarks;

/// <summary>
/// Signing a 1 KB TBSCertificate-sized buffer with a CA key in a file (.NET, OpenSSL) against the same kind of key on a
/// SoftHSM2 token (<see cref="Pkcs11Key"/>: hash here, CKM_ECDSA / CKM_RSA_PKCS on the token, one pooled session), P-256
/// and RSA-2048. Needs softhsm2 and opensc (pkcs11-tool); the token lives in a temporary folder of its own.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class KeyBackendBenchmarks
{
    private const string Library = "/usr/lib/softhsm/libsofthsm2.so";
    private const string Pin = "1234-bench";
    private readonly byte[] _data = RandomNumberGenerator.GetBytes(1024);
    private string _folder = "";
    private IPrivateKey _fileEc = null!;
    private IPrivateKey _fileRsa = null!;
    private IPrivateKey _tokenEc = null!;
    private IPrivateKey _tokenRsa = null!;
    private Pkcs11Token _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("cmp-bench-softhsm-").FullName;
        Directory.CreateDirectory(Path.Combine(_folder, "tokens"));
        string config = Path.Combine(_folder, "softhsm2.conf");
        File.WriteAllText(config, $"directories.tokendir = {Path.Combine(_folder, "tokens")}\nlog.level = ERROR\n");
        // The module reads the C environment at C_Initialize.
        SetEnv("SOFTHSM2_CONF", config, 1);
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", config);
        Run("softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", Pin, "--so-pin", "5678-bench");
        foreach ((string label, string type) in new[] { ("ec", "EC:prime256v1"), ("rsa", "rsa:2048") })
        {
            Run("pkcs11-tool", "--module", Library, "--token-label", "bench", "--login", "--pin", Pin,
                "--keypairgen", "--key-type", type, "--label", label, "--usage-sign");
        }
        _token = Pkcs11Token.Open("bench", new Pkcs11TokenOptions { Library = Library, TokenLabel = "bench", Pin = Pin, Sessions = 1 }, NullLogger.Instance);
        _tokenEc = new Pkcs11Key(_token, "bench-ec", "ec", ec: true, 256, null);
        _tokenRsa = new Pkcs11Key(_token, "bench-rsa", "rsa", ec: false, 2048, null);
        _fileEc = new FileKey(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        _fileRsa = new FileKey(RSA.Create(2048));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _token.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Description = "sign 1 KB, P-256, file key (.NET)", Baseline = true)]
    public byte[] FileP256() => _fileEc.Signer.Sign(_data);

    [Benchmark(Description = "sign 1 KB, P-256, SoftHSM2 token")]
    public byte[] TokenP256() => _tokenEc.Signer.Sign(_data);

    [Benchmark(Description = "sign 1 KB, RSA-2048, file key (.NET)")]
    public byte[] FileRsa2048() => _fileRsa.Signer.Sign(_data);

    [Benchmark(Description = "sign 1 KB, RSA-2048, SoftHSM2 token")]
    public byte[] TokenRsa2048() => _tokenRsa.Signer.Sign(_data);

    private static void Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} exited {process.ExitCode}: {error}");
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);
}
