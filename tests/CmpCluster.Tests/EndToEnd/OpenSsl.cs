using System.Diagnostics;
using System.Text;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>What one <c>openssl</c> run did.</summary>
public sealed record OpenSslResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>stdout and stderr together. OpenSSL 3.0's <c>openssl cmp</c> writes its whole log (CMP info, warnings, errors such as
    /// "PKIFailureInfo: badMessageCheck") to stdout; other openssl commands use stderr for errors. Assert on this.</summary>
    public string Output => Stdout + Stderr;

    public bool Succeeded => ExitCode == 0;

    public override string ToString() =>
        $"$ {CommandLine}\nexit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs the system <c>openssl</c> binary with a timeout, capturing exit code, stdout and stderr.</summary>
public static class OpenSsl
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task<OpenSslResult> RunAsync(string workingDirectory, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // A stray OPENSSL_CONF [cmp] section must not change the client's behaviour.
        info.Environment.Remove("OPENSSL_CONF");
        string commandLine = "openssl " + string.Join(' ', info.ArgumentList.Select(Quote));

        using var process = new Process { StartInfo = info };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            await process.WaitForExitAsync();
            throw new TimeoutException(
                $"openssl did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0} s\n{new OpenSslResult(commandLine, -1, stdout.ToString(), stderr.ToString())}");
        }
        lock (stdout)
        lock (stderr)
        {
            return new OpenSslResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString());
        }
    }

    public static Task<OpenSslResult> RunAsync(string workingDirectory, params string[] arguments) =>
        RunAsync(workingDirectory, (IEnumerable<string>)arguments);

    /// <summary><c>openssl ecparam -genkey -name prime256v1 -noout -out FILE</c>; returns the key file's path.</summary>
    public static async Task<string> GenerateP256KeyAsync(string directory, string name = "key.pem")
    {
        string path = Path.Combine(directory, name);
        OpenSslResult result = await RunAsync(directory, "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", path);
        if (!result.Succeeded || !File.Exists(path))
        {
            throw new InvalidOperationException("key generation failed\n" + result);
        }
        return path;
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=,@+".Contains(c)) ? argument : $"'{argument}'";
}

/// <summary>One <c>openssl cmp</c> enrollment against a node, with the defaults of the shipped <c>ra</c> alias.</summary>
public sealed record CmpEnrollment
{
    public string Command { get; init; } = "ir";
    /// <summary>URL path without the leading slash, as <c>-path</c> takes it.</summary>
    public string Path { get; init; } = ".well-known/cmp/p/ra";
    public string Reference { get; init; } = "ra";
    public string Secret { get; init; } = "changeit";
    public string Subject { get; init; } = "/CN=e2e-device/O=Example";
    /// <summary>Trust anchor for signed responses (<c>-trusted</c>); null: the node's root CA.</summary>
    public string? Trusted { get; init; }
    public string KeyFile { get; init; } = "key.pem";
    public string CertOut { get; init; } = "cert.pem";
    /// <summary>Comma-separated files for <c>-rspout</c> (each received message in order), or null.</summary>
    public string? ResponsesOut { get; init; }
    public IReadOnlyList<string> Extra { get; init; } = [];

    public IReadOnlyList<string> Arguments(NodeProcess node)
    {
        var arguments = new List<string>
        {
            "cmp", "-cmd", Command,
            "-server", node.Server, "-path", Path,
            "-ref", Reference, "-secret", "pass:" + Secret,
            "-newkey", KeyFile, "-subject", Subject,
            "-certout", CertOut,
            "-trusted", Trusted ?? node.RootCaPath,
        };
        if (ResponsesOut is not null)
        {
            arguments.Add("-rspout");
            arguments.Add(ResponsesOut);
        }
        arguments.AddRange(Extra);
        return arguments;
    }

    public Task<OpenSslResult> RunAsync(NodeProcess node, string workingDirectory) =>
        OpenSsl.RunAsync(workingDirectory, Arguments(node));
}
