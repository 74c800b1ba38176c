using System.ComponentModel.DataAnnotations;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Silo;

/// <summary>The <c>Node</c> section: where this process keeps its data and which Orleans ports it binds.</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>Holds the single node's SQLite databases (grain state and reminders in <c>cluster.db</c>, the audit trail in
    /// <c>audit.db</c>), the PKI folder <c>pki/</c> and the audit key <c>audit/</c>. Relative to the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Silo-to-silo port (loopback only in the single-node default).</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>
    /// Port where Orleans clients (standalone gateways) connect. Cluster mode: 30000 unless set. Single node: none unless
    /// set, since its gateway runs in the same process; an open client port would only be one more way in.
    /// </summary>
    [Range(1, 65535)]
    public int? GatewayPort { get; set; }

    public const int DefaultClusterGatewayPort = 30000;

    /// <summary>The client port this node opens; 0 is Orleans' "no gateway".</summary>
    public int EffectiveGatewayPort => GatewayPort ?? (Mode == NodeMode.Cluster ? DefaultClusterGatewayPort : 0);

    /// <summary>Orleans ClusterId and ServiceId; reminders are scoped by the ServiceId.</summary>
    [Required]
    public string ClusterId { get; set; } = "cmpcluster";

    /// <summary>Orleans ServiceId: reminders, and in cluster mode every Redis key of the cluster, are scoped by it.</summary>
    [Required]
    public string ServiceId { get; set; } = "cmpcluster";

    /// <summary><see cref="NodeMode.SingleNode"/> (SQLite, localhost clustering) or <see cref="NodeMode.Cluster"/>
    /// (Redis clustering, grain storage and reminders at <c>Redis:ConnectionString</c>).</summary>
    public NodeMode Mode { get; set; } = NodeMode.SingleNode;

    /// <summary>Address the silo advertises to the other silos and to clients (cluster mode). Loopback by default,
    /// so a local cluster never reaches beyond the machine; set the host's or pod's address in a real deployment.</summary>
    [Required]
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Bind the silo and gateway ports on all interfaces (containers) rather than the advertised address only.</summary>
    public bool ListenOnAnyHostAddress { get; set; }

    /// <summary>Use Orleans' Kubernetes hosting (pod name, IP and namespace from the environment; dead pods leave the
    /// membership). Cluster mode only.</summary>
    public bool Kubernetes { get; set; }
}

public enum NodeMode
{
    SingleNode,
    Cluster,
}

/// <summary>Start-up validation of the Node section: its data annotations, each failure naming its key.</summary>
public sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options)
    {
        var errors = new List<string>();
        OptionAnnotations.Validate(options, NodeOptions.Section, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
