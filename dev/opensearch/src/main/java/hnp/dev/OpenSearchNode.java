package hnp.dev;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts real OpenSearch nodes on 127.0.0.1 for development and CI, with the modules a
 * distribution would load from modules/ (netty4 transport and HTTP, analysis-common, painless)
 * taken from the classpath instead. No security plugin, so plain HTTP.
 *
 * <pre>
 * java -Xms1g -Xmx1g -cp 'target/classes:target/lib/*' hnp.dev.OpenSearchNode [options]
 *   --data DIR          where each node keeps its data, in DIR/node-I (default: data)
 *   --http-port P       HTTP port of node 0; node I listens on P+I (default: 9200)
 *   --transport-port P  transport port of node 0; node I on P+I (default: 9300)
 *   --nodes N           nodes in the cluster (default: 1; 1 means discovery.type=single-node)
 *   --only I            start only node I of the N here (default: all N in this JVM);
 *                       the others are started by other launches with the same options
 *   --cluster-name NAME (default: hnp-dev)
 * </pre>
 * Runs until killed (SIGTERM or SIGINT close the nodes cleanly).
 */
public final class OpenSearchNode {

    /** A node that takes its plugins as classes, as the protected constructor allows. */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private static final List<Class<? extends Plugin>> MODULES =
            List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class);

    private Path data = Path.of("data");
    private int httpPort = 9200;
    private int transportPort = 9300;
    private int nodes = 1;
    private int only = -1;
    private String clusterName = "hnp-dev";

    public static void main(String[] args) throws Exception {
        OpenSearchNode launcher = new OpenSearchNode();
        try {
            launcher.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("OpenSearchNode: " + e.getMessage());
            System.exit(2);
        }
        launcher.run();
    }

    private void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("option " + name + " needs a value");
            }
            String value = args[++i];
            switch (name) {
                case "--data" -> data = Path.of(value);
                case "--http-port" -> httpPort = number(name, value, 1, 65535);
                case "--transport-port" -> transportPort = number(name, value, 1, 65535);
                case "--nodes" -> nodes = number(name, value, 1, 9);
                case "--only" -> only = number(name, value, 0, 8);
                case "--cluster-name" -> clusterName = value;
                default -> throw new IllegalArgumentException("unknown option " + name);
            }
        }
        if (only >= nodes) {
            throw new IllegalArgumentException("--only " + only + " is not one of the " + nodes + " nodes (0.." + (nodes - 1) + ")");
        }
    }

    private static int number(String name, String value, int low, int high) {
        try {
            int n = Integer.parseInt(value);
            if (n >= low && n <= high) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " must be a whole number from " + low + " to " + high + ", not '" + value + "'");
    }

    private Settings settings(int index) {
        Path home = data.toAbsolutePath().resolve("node-" + index);
        Settings.Builder builder = Settings.builder()
                .put("cluster.name", clusterName)
                .put("node.name", "node-" + index)
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", httpPort + index)
                .put("transport.port", transportPort + index)
                // A dev machine's disk may be fuller than the default watermarks allow.
                .put("cluster.routing.allocation.disk.threshold_enabled", false);
        if (nodes == 1) {
            builder.put("discovery.type", "single-node");
        } else {
            List<String> seeds = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < nodes; i++) {
                seeds.add("127.0.0.1:" + (transportPort + i));
                names.add("node-" + i);
            }
            builder.putList("discovery.seed_hosts", seeds)
                    .putList("cluster.initial_cluster_manager_nodes", names);
            if (only < 0) {
                // start() waits (30 s by default) to join a cluster, which cannot form
                // before the next node in this JVM is started.
                builder.put("discovery.initial_state_timeout", "0s");
            }
        }
        return builder.build();
    }

    private void run() throws Exception {
        List<Node> started = new ArrayList<>();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            List<Node> open;
            synchronized (started) {
                open = new ArrayList<>(started);
            }
            for (Node node : open) {
                try {
                    node.close();
                    node.awaitClose(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    System.err.println("OpenSearchNode: closing a node failed: " + e);
                }
            }
            stopped.countDown();
        }, "hnp-opensearch-shutdown"));
        for (int i = 0; i < nodes; i++) {
            if (only >= 0 && i != only) {
                continue;
            }
            Settings settings = settings(i);
            Files.createDirectories(Path.of(settings.get("path.logs")));
            String name = settings.get("node.name");
            Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> name);
            Node node = new ClasspathNode(environment, MODULES);
            synchronized (started) {
                started.add(node);
            }
            try {
                node.start();
            } catch (Exception e) {
                System.err.println("OpenSearchNode: " + name + " did not start: " + e);
                System.exit(1);
            }
            System.out.println("OpenSearchNode: " + name + " started, http://127.0.0.1:" + (httpPort + i));
        }
        stopped.await();
    }
}
