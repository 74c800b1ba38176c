using System.ComponentModel.DataAnnotations;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Audit;

/// <summary>The <c>Audit</c> section: batching, checkpoints and the audit key. Checked at start by <see cref="AuditOptionsValidator"/>.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>At most this many records go into one store write.</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>
    /// How long a batch that is not full waits for more records before it is written (0: write what is queued at
    /// once; appends that arrive during a write form the next batch anyway).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Appends waiting for the writer; beyond it callers wait (back-pressure). At least <see cref="MaxBatchSize"/>.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 16_384;

    /// <summary>How often a signed checkpoint covers the chain head (skipped while nothing changed); one is also
    /// written at start and at graceful shutdown.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An operator-provisioned audit key (encrypted PKCS#8 P-256 under <c>Pki:Passphrase</c>), e.g. a mounted secret
    /// per silo in cluster mode; it is never created. Unset: <c>{Node:DataDirectory}/audit/audit.key.pem</c>, created on
    /// first start.
    /// </summary>
    public string? KeyPath { get; set; }

    /// <summary>This writer's identity in its chain id (default: the host name and silo port).</summary>
    public string? NodeName { get; set; }
}

/// <summary>Start-time checks (the ranges through their attributes, <see cref="OptionAnnotations"/>); each failure names its key.</summary>
public sealed class AuditOptionsValidator : IValidateOptions<AuditOptions>
{
    public ValidateOptionsResult Validate(string? name, AuditOptions options)
    {
        var errors = new List<string>();
        OptionAnnotations.Validate(options, AuditOptions.Section, errors);
        if (options.QueueCapacity < options.MaxBatchSize) errors.Add("Audit:QueueCapacity must be at least Audit:MaxBatchSize");
        if (options.KeyPath is { } path && string.IsNullOrWhiteSpace(path)) errors.Add("Audit:KeyPath must name a file when set");
        if (options.NodeName is { } node && (node.Length is < 1 or > 128 || node.Any(char.IsControl))) errors.Add("Audit:NodeName must be 1 .. 128 printable characters");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
